import { createServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { isolatedEnv, killAll, randomAdminKey, removeTempDirs, runCli, workspace } from "./support/process.js";

describe("airlock start: an address it cannot listen on", () => {
  const servers: Server[] = [];
  afterAll(async () => {
    for (const server of servers) server.close();
    await killAll();
    await removeTempDirs();
  });

  it("says the port is in use and how to choose another, in one line, with exit 1", async () => {
    const taken = createServer();
    servers.push(taken);
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as AddressInfo).port;
    const { cwd, dataDir } = await workspace();
    const result = await runCli(["start", "--port", String(port), "--host", "127.0.0.1"], { cwd, env: isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: randomAdminKey() }), timeoutMs: 60_000 });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`airlock: cannot listen on 127.0.0.1:${port}: the port is already in use (EADDRINUSE); stop what listens there, or choose another port with --port, PORT or server.port\n`);
  }, 90_000);

  it("says an address that is not this host's is not, naming where it was set", async () => {
    const { cwd, dataDir } = await workspace();
    // TEST-NET-1 (RFC 5737): never an address of the host running the tests.
    const result = await runCli(["start", "--port", "4999", "--host", "192.0.2.1"], { cwd, env: isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: randomAdminKey() }), timeoutMs: 60_000 });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("airlock: cannot listen on 192.0.2.1:4999: 192.0.2.1 is not an address of this host (EADDRNOTAVAIL); choose another with --host or server.host\n");
  }, 90_000);
});
