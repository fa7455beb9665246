import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { Pool } from "undici";

/**
 * The floor: a bare pass-through proxy, node:http in and an undici Pool out, that streams bytes both
 * ways without reading them. Any gateway does at least this much work per call.
 */

const upstream = new URL(process.argv[2] ?? "http://127.0.0.1:1");
const pool = new Pool(upstream.origin, { connections: 256, keepAliveTimeout: 65_000 });

// Hop-by-hop headers belong to one connection and must not be forwarded.
const HOP = new Set(["connection", "keep-alive", "transfer-encoding", "host", "upgrade", "proxy-connection"]);

function forwardable(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP.has(name)) out[name] = value;
  return out;
}

const server = createServer((req, res) => {
  pool
    .request({ method: req.method as "POST", path: req.url ?? "/", headers: forwardable(req.headers), body: req })
    .then(({ statusCode, headers, body }) => {
      res.writeHead(statusCode, forwardable(headers));
      body.pipe(res);
    })
    .catch(() => {
      res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "upstream unreachable", type: "proxy_error", param: null, code: null } }));
    });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.argv[3] ?? 0), "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + "\n");
});
process.on("SIGTERM", () => {
  server.close(() => void pool.close().then(() => process.exit(0)));
  server.closeAllConnections();
});
