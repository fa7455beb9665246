import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeS3 {
  url: string;
  /** Stored objects by `bucket/key`. */
  objects: Map<string, Buffer>;
  /** Each request's method, path and whether it carried a SigV4 signature. */
  requests: Array<{ method: string; path: string; signed: boolean }>;
  close(): Promise<void>;
}

/**
 * An S3-compatible object store on loopback, path-style (`/<bucket>/<key>`), speaking S3's wire format
 * for PutObject and GetObject: ETag on PUT, NoSuchKey as S3's XML error with 404.
 */
export async function startFakeS3(): Promise<FakeS3> {
  const objects = new Map<string, Buffer>();
  const requests: FakeS3["requests"] = [];
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent((req.url ?? "/").split("?")[0]!.slice(1));
    requests.push({ method: req.method ?? "", path, signed: (req.headers.authorization ?? "").startsWith("AWS4-HMAC-SHA256 Credential=") });
    if (req.method === "PUT") {
      objects.set(path, await objectBody(req));
      res.writeHead(200, { etag: '"fake-etag"', "x-amz-request-id": "fake" }).end();
      return;
    }
    const object = objects.get(path);
    if (req.method === "GET" && object) {
      res.writeHead(200, { "content-type": "application/json", "content-length": object.length, etag: '"fake-etag"' }).end(object);
      return;
    }
    res.writeHead(404, { "content-type": "application/xml" }).end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>${path}</Key></Error>`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    objects,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function objectBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  if (!String(req.headers["content-encoding"] ?? "").includes("aws-chunked")) return raw;
  // aws-chunked: "<hex size>[;chunk-signature=…]\r\n<data>\r\n" repeated, ending with a 0-size chunk and trailers.
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf("\r\n", at);
    const size = parseInt(raw.subarray(at, lineEnd).toString().split(";")[0]!, 16);
    if (!size) return Buffer.concat(parts);
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}
