import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

/** One OTLP/HTTP export request as the collector received it. */
export interface OtlpExport {
  path: string;
  contentType: string | undefined;
  raw: string;
  body: { resourceSpans?: Array<{ resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: Array<{ spans?: OtlpSpan[] }> }> };
}

interface OtlpAnyValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
}
type OtlpAttribute = { key: string; value: OtlpAnyValue };
export interface OtlpSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes?: OtlpAttribute[];
  status?: { code?: number; message?: string };
}
type AttributeRecord = Record<string, string | number | boolean | undefined>;
/** A span with its attributes, and its resource's (`service.name`, …), as records. */
export type ExportedSpan = OtlpSpan & { attrs: AttributeRecord; resource: AttributeRecord };

export interface OtlpCollector {
  url: string;
  exports: OtlpExport[];
  /** Every span received so far, with its attributes as a record. */
  spans(): ExportedSpan[];
  close(): Promise<void>;
}

/** A stand-in OTLP/HTTP collector on loopback, for the JSON encoding the trace exporter sends. */
export async function startOtlpCollector(): Promise<OtlpCollector> {
  const exports: OtlpExport[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let bytes = Buffer.concat(chunks);
      if (req.headers["content-encoding"] === "gzip") bytes = gunzipSync(bytes);
      const contentType = req.headers["content-type"];
      const raw = bytes.toString("utf8");
      exports.push({ path: req.url ?? "", contentType, raw, body: contentType?.startsWith("application/json") ? (JSON.parse(raw) as OtlpExport["body"]) : {} });
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const value = (v: OtlpAnyValue) => v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ?? v.boolValue;
  const toRecord = (attrs: OtlpAttribute[] = []): AttributeRecord => Object.fromEntries(attrs.map((a) => [a.key, value(a.value)]));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exports,
    spans: () =>
      exports.flatMap((e) =>
        (e.body.resourceSpans ?? []).flatMap((rs) =>
          (rs.scopeSpans ?? []).flatMap((ss) => (ss.spans ?? []).map((span) => ({ ...span, attrs: toRecord(span.attributes), resource: toRecord(rs.resource?.attributes) }))),
        ),
      ),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls `probe` every 50 ms until it finds something (a span the exporter has not sent yet), or fails naming `what`. */
export async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
