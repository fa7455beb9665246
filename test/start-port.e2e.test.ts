import { createServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { request } from "node:http";
import { fetchRefusesPort } from "../src/core/http-url.js";
import { checkCanListen } from "../src/gateway/port-check.js";
import { isolatedEnv, killAll, randomAdminKey, removeTempDirs, runCli, spawnGateway, workspace } from "./support/process.js";

/** A port from the Fetch standard's bad ports that nothing on this host listens on now. */
async function freePortFetchRefuses(): Promise<number> {
  // Above 1024, so that no privilege is needed to listen there.
  for (const port of [...Array(65_536).keys()].filter((p) => p > 1024 && fetchRefusesPort(p))) {
    const free = await checkCanListen(port, "127.0.0.1").then(
      () => true,
      () => false,
    );
    if (free) return port;
  }
  throw new Error("every port fetch refuses above 1024 is taken on this host");
}

function statusOverHttp(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on("error", reject)
      .end();
  });
}

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

  it("starts on a port that fetch refuses, and warns that browsers and fetch clients cannot reach it", async () => {
    const port = await freePortFetchRefuses();
    const { cwd, dataDir } = await workspace();
    const gw = await spawnGateway({ cwd, env: isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: randomAdminKey() }), args: ["--port", String(port), "--host", "127.0.0.1"] });
    try {
      // Plain HTTP (curl, node:http) reaches it; fetch does not.
      expect(await statusOverHttp(`${gw.url}/healthz`)).toBe(200);
      await expect(fetch(`${gw.url}/healthz`)).rejects.toMatchObject({ cause: { message: "bad port" } });
      const warnings = gw.logLines().filter((line) => line.level === 40);
      expect(warnings).toEqual([
        expect.objectContaining({
          port,
          msg: `port ${port} is one that browsers and fetch refuse to connect to (the Fetch standard's bad ports): the dashboard, the airlock CLI and SDKs built on fetch cannot reach this gateway; choose another port with --port, PORT or server.port`,
        }),
      ]);
    } finally {
      await gw.stop();
    }
  }, 90_000);
});
