import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * An attempt on a receiver that takes the request and never answers ends at its timeout, even while
 * garbage collections run. Node 20's AbortSignal.any holds the signals it combines weakly, so a deadline
 * made with AbortSignal.timeout inside it could be collected before it fired, and the attempt waited for
 * ever. Run in a process of its own with --expose-gc, which collects between every tick of the wait.
 */
const SCRIPT = `
import http from "node:http";
import { attempt } from ${JSON.stringify(fileURLToPath(new URL("./webhook-attempt.ts", import.meta.url)))};
const server = http.createServer(() => {});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = "http://127.0.0.1:" + server.address().port + "/";
const collecting = setInterval(() => {
  globalThis.gc();
  const garbage = [];
  for (let i = 0; i < 100000; i++) garbage.push({ i });
}, 20);
const hook = { name: "silent", url, format: "json" };
const results = await Promise.all([1, 2, 3].map((n) => attempt(hook, { id: "d" + n, eventId: "e" + n, event: "kill_switch.flipped", body: {} }, 500, new AbortController().signal)));
clearInterval(collecting);
server.closeAllConnections();
server.close();
console.log(JSON.stringify(results));
`;

describe("a webhook attempt's timeout", () => {
  it("ends an attempt on a receiver that never answers at its timeout while garbage collections run", async () => {
    const out = await new Promise<string>((resolve, reject) => {
      const child = execFile(process.execPath, ["--expose-gc", "--import", "tsx", "--input-type=module", "-e", SCRIPT], { timeout: 20_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      );
      child.stdin?.end();
    });
    expect(JSON.parse(out.trim())).toEqual([1, 2, 3].map(() => ({ status: null, error: "no answer within 0.5 s" })));
  }, 30_000);
});
