import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { AirlockError } from "../../core/errors.js";
import type { ObjectStore, S3Settings } from "./artifact-store.js";

/** S3 or any S3-compatible store (MinIO, R2, GCS interop): `s3://<bucket>/<prefix><key>`. */
export class S3ObjectStore implements ObjectStore {
  private readonly client: S3Client;

  constructor(private readonly settings: S3Settings) {
    this.client = new S3Client({
      region: settings.region,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      forcePathStyle: settings.forcePathStyle,
      credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
    });
  }

  async put(key: string, bytes: Buffer): Promise<string> {
    const objectKey = `${this.settings.prefix}${key}`;
    await this.client.send(new PutObjectCommand({ Bucket: this.settings.bucket, Key: objectKey, Body: bytes, ContentType: "application/json" }));
    return `s3://${this.settings.bucket}/${objectKey}`;
  }

  async get(uri: string): Promise<Buffer> {
    const prefix = `s3://${this.settings.bucket}/`;
    if (!uri.startsWith(prefix)) throw new AirlockError("invalid_request", "the artifact is in another bucket");
    const object = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: uri.slice(prefix.length) }));
    if (!object.Body) throw new AirlockError("unavailable", "the object store returned no body");
    return Buffer.from(await object.Body.transformToByteArray());
  }

  close(): void {
    this.client.destroy();
  }
}

