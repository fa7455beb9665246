import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { AirlockError } from "../../core/errors.js";
import type { Db } from "../../store/database.js";
import { getArtifact, insertArtifactOnce } from "../../store/queries/executions.js";
import type { ArtifactRow } from "../../store/schema/index.js";

/** Artifacts up to this size live in Postgres; larger ones go to the object store. */
export const INLINE_LIMIT_BYTES = 64 * 1024;
export const MAX_ARTIFACT_BYTES = 10 * 1024 * 1024;

/** Where large artifacts are kept. The URI it returns says where each one lives. */
export interface ObjectStore {
  put(key: string, bytes: Buffer): Promise<string>;
  get(uri: string): Promise<Buffer>;
}

/** Files under one directory (the default): `file:///…/artifacts/<key>`. */
export class LocalObjectStore implements ObjectStore {
  constructor(private readonly dir: string) {}

  async put(key: string, bytes: Buffer): Promise<string> {
    const file = path.join(this.dir, key);
    await mkdir(path.dirname(file), { recursive: true });
    // Written aside and renamed, so that a reader never sees half an artifact.
    await writeFile(`${file}.partial`, bytes);
    await rename(`${file}.partial`, file);
    return pathToFileURL(file).href;
  }

  async get(uri: string): Promise<Buffer> {
    const file = fileURLToPath(uri);
    if (!path.resolve(file).startsWith(path.resolve(this.dir) + path.sep)) throw new AirlockError("invalid_request", "the artifact is outside the artifact directory");
    return readFile(file);
  }
}

export interface S3Settings {
  endpoint?: string;
  region: string;
  bucket: string;
  prefix: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
}

/** S3 or any S3-compatible store, its SDK loaded on first use: most instances never need it. */
export class LazyS3Store implements ObjectStore {
  private store: Promise<ObjectStore & { close(): void }> | undefined;

  constructor(private readonly settings: S3Settings) {}

  async put(key: string, bytes: Buffer): Promise<string> {
    return (await this.open()).put(key, bytes);
  }

  async get(uri: string): Promise<Buffer> {
    return (await this.open()).get(uri);
  }

  async close(): Promise<void> {
    (await this.store)?.close();
  }

  private open(): Promise<ObjectStore & { close(): void }> {
    this.store ??= import("./s3-store.js").then(({ S3ObjectStore }) => new S3ObjectStore(this.settings));
    return this.store;
  }
}

export type ArtifactType = ArtifactRow["type"];

/** Writes artifacts where their size says, once per id, and reads them back from wherever they are. */
export class ArtifactWriter {
  constructor(
    private readonly db: Db,
    private readonly objects: ObjectStore,
  ) {}

  async write(artifact: { id: string; directiveId: string; runId: string | null; type: ArtifactType; body: unknown }): Promise<void> {
    const bytes = Buffer.from(JSON.stringify(artifact.body));
    if (bytes.length > MAX_ARTIFACT_BYTES) throw new AirlockError("invalid_request", `an artifact may hold at most ${MAX_ARTIFACT_BYTES} bytes; this one has ${bytes.length}`);
    const inline = bytes.length <= INLINE_LIMIT_BYTES;
    const uri = inline ? `pg:artifacts/${artifact.id}` : await this.objects.put(`${artifact.directiveId}/${artifact.id}.json`, bytes);
    await insertArtifactOnce(this.db, { ...artifact, body: inline ? artifact.body : null, uri, sizeBytes: bytes.length });
  }

  /** The artifact with its content, read from Postgres or the object store. */
  async read(id: string): Promise<ArtifactRow> {
    const row = await getArtifact(this.db, id);
    if (!row) throw new AirlockError("not_found", `no artifact "${id}"`);
    if (row.body !== null || row.uri.startsWith("pg:")) return row;
    return { ...row, body: JSON.parse((await this.objects.get(row.uri)).toString("utf8")) as unknown };
  }
}
