import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { Writable } from "node:stream";
import { pathToFileURL } from "node:url";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { accessLog, type AccessLogLine } from "./access-log.js";
import { createLogger } from "./logger.js";

/** A destination that keeps every line it is given. */
function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { destination, lines, parsed: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

const settle = () => new Promise((resolve) => setImmediate(resolve));

const line: AccessLogLine = {
  requestId: "req_abc",
  method: "POST",
  path: "/v1/chat/completions",
  status: 200,
  ms: 1.25,
  operation: "support_reply",
  model: "openai/gpt-4o-mini",
  keyId: "key_123",
};

describe("accessLog", () => {
  it("writes the line pino writes for the same fields, with the logger's bindings", async () => {
    const ours = capture();
    const reference = capture();
    accessLog(createLogger({ destination: ours.destination }).child({ worker: 2 }))(line);
    createLogger({ destination: reference.destination }).child({ worker: 2 }).info(line, "request");
    await settle();
    const [written] = ours.parsed();
    const [expected] = reference.parsed();
    expect(typeof written!.time).toBe("number");
    expect(Math.abs((written!.time as number) - (expected!.time as number))).toBeLessThan(1_000);
    expect({ ...written, time: 0 }).toEqual({ ...expected, time: 0 });
    expect(written).toMatchObject({ level: 30, service: "airlock", worker: 2, msg: "request", status: 200, ms: 1.25 });
  });

  it("escapes what a client chose (the model name, the path) and leaves out fields a request did not have", async () => {
    const out = capture();
    const model = 'gpt "4"\n\u2028\\ 模型';
    accessLog(createLogger({ destination: out.destination }))({ requestId: "req_x", method: "GET", path: "/v1/models/\"x\"", status: 404, ms: 0.5, model, code: "not_found" });
    await settle();
    expect(out.lines).toHaveLength(1);
    const [written] = out.parsed();
    expect(written).toMatchObject({ model, path: '/v1/models/"x"', code: "not_found" });
    expect(Object.keys(written!)).not.toContain("operation");
    expect(Object.keys(written!)).not.toContain("keyId");
  });

  it("writes nothing below the info level", async () => {
    const out = capture();
    accessLog(createLogger({ level: "warn", destination: out.destination }))(line);
    await settle();
    expect(out.lines).toEqual([]);
  });

  it("reaches stdout within about a second while the process runs on, not only at its exit", async () => {
    // The logger the gateway runs with: stdout, batched, a partial batch sent by its timer.
    const script = [
      `import { createLogger } from ${JSON.stringify(new URL("./logger.ts", import.meta.url).href)};`,
      `import { accessLog } from ${JSON.stringify(new URL("./access-log.ts", import.meta.url).href)};`,
      `accessLog(createLogger())(${JSON.stringify({ ...line, requestId: "req_alive" })});`,
      "setTimeout(() => undefined, 20_000);",
    ].join("\n");
    const child = spawn(process.execPath, ["--import", TSX_LOADER, "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
      await vi.waitFor(() => expect(out).toContain('"requestId":"req_alive"'), { timeout: 10_000, interval: 20 });
      expect(child.exitCode).toBeNull();
      expect(JSON.parse(out.trim())).toMatchObject({ msg: "request", requestId: "req_alive", status: 200 });
    } finally {
      child.kill();
    }
  });

  it("goes through pino for a logger whose format Airlock did not choose", async () => {
    const out = capture();
    const foreign = pino({ formatters: { level: (label) => ({ severity: label }) }, base: null, messageKey: "message" }, out.destination);
    accessLog(foreign)(line);
    await settle();
    const [written] = out.parsed();
    expect(written).toMatchObject({ severity: "info", message: "request", requestId: "req_abc", status: 200 });
    expect(written).not.toHaveProperty("level");
  });
});
