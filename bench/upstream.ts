import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * The bench's OpenAI-compatible upstream, in its own process so that its CPU never counts against a
 * target. It answers with recorded OpenAI payloads (JSON, or SSE frames one write each) after the
 * delay the model name asks for: `delay-50` waits 50 ms before the first byte. `paced-200` streams as
 * models generate: 200 content events, each its own write 1 ms after the one before, so that each
 * reaches the gateway in a network read of its own.
 */

const fixtures = new URL("../test/fixtures/openai/", import.meta.url);
const chatBody = JSON.stringify(JSON.parse(readFileSync(new URL("chat.json", fixtures), "utf8")));
const sseFrames = readFileSync(new URL("chat.sse", fixtures), "utf8")
  .split("\n\n")
  .filter((frame) => frame.startsWith("data: "))
  .map((frame) => frame + "\n\n");

/** A paced stream's events: the recording's first (role) chunk, `events` content chunks, then its last three frames (finish, usage, [DONE]). */
function pacedFrames(events: number): string[] {
  const [first, content] = [sseFrames[0]!, sseFrames[1]!];
  const words = ["The", " capital", " of", " France", " is", " Paris", "."];
  const contents = Array.from({ length: events }, (_, i) => content.replace('"content":"The"', `"content":${JSON.stringify(words[i % words.length])}`));
  return [first, ...contents, ...sseFrames.slice(-3)];
}

function pacedEventsOf(model: unknown): number | undefined {
  const match = typeof model === "string" ? /paced-(\d+)/.exec(model) : null;
  return match ? Number(match[1]) : undefined;
}

function delayOf(model: unknown): number {
  const match = typeof model === "string" ? /delay-(\d+)/.exec(model) : null;
  return match ? Number(match[1]) : 0;
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    let body: { model?: unknown; stream?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as typeof body;
    } catch {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "invalid JSON", type: "invalid_request_error", param: null, code: null } }));
      return;
    }
    const answer = () => {
      const paced = pacedEventsOf(body.model);
      if (body.stream === true && paced !== undefined) {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        const frames = pacedFrames(paced);
        let next = 0;
        const send = () => {
          if (res.destroyed) return;
          res.write(frames[next++]!);
          if (next < frames.length) setTimeout(send, 1);
          else res.end();
        };
        send();
      } else if (body.stream === true) {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        for (const frame of sseFrames) res.write(frame);
        res.end();
      } else {
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(chatBody) });
        res.end(chatBody);
      }
    };
    const delay = delayOf(body.model);
    if (delay > 0) setTimeout(answer, delay);
    else answer();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + "\n");
});
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
