import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
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

  it("writes through the logger's streamWrite hook, which the buffered destination's flush timer relies on", async () => {
    const out = capture();
    const seen: string[] = [];
    const logger = createLogger({ destination: out.destination });
    // The production logger installs flushPeriodically's hook; any hook must see the access line too.
    (logger as unknown as Record<symbol, unknown>)[Symbol.for("pino.hooks")] = { streamWrite: (text: string) => (seen.push(text), text) };
    accessLog(logger)(line);
    await settle();
    expect(seen).toHaveLength(1);
    expect(out.lines).toHaveLength(1);
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
