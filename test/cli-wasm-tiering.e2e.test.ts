import { afterAll, describe, expect, it } from "vitest";
import { oneOpenAiModel, startTestGateway } from "./support/gateway.js";
import { isolatedEnv, killAll, removeTempDirs, runCli, seedDataDir, urlWhereNothingListens, workspace } from "./support/process.js";

/**
 * A CLI command runs a few statements or requests and exits. V8's optimizing compiler would spend
 * about 0.6 s of CPU on PGlite's largest functions as a command ends, and Node waits for the compile of
 * the HTTP parser behind `fetch` before it exits, for code that never runs (src/core/wasm-tiering.ts):
 * a command leaves its WebAssembly to the baseline compiler.
 */
describe("a CLI command's WebAssembly", () => {
  afterAll(async () => {
    await killAll();
    await removeTempDirs();
  });

  /** V8 traces each function's compile on stdout: some compiled as they first ran, none optimized. */
  function expectBaselineOnly(trace: string): void {
    expect(trace).toMatch(/Compiled function \S+ using Liftoff/);
    expect(trace).not.toContain("using TurboFan");
  }

  it("on the embedded store: PGlite runs from its baseline code", async () => {
    const { cwd, dataDir } = await workspace();
    await seedDataDir(dataDir);
    // No gateway answers here, so the command opens the store itself.
    const env = isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_URL: await urlWhereNothingListens() });
    const traced = await runCli(["spend"], { cwd, env, nodeArgs: ["--trace-wasm-compilation-times"] });
    expect(traced.code, traced.stderr).toBe(0);
    expect(traced.stdout).toContain("No calls in this period.");
    expectBaselineOnly(traced.stdout);
  });

  it("sent to a gateway: the HTTP parser runs from its baseline code", async () => {
    // No call is made: the provider's address is never dialled.
    const gateway = await startTestGateway("pglite", oneOpenAiModel(await urlWhereNothingListens()));
    try {
      const { cwd, dataDir } = await workspace();
      const env = isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_URL: gateway.url, AIRLOCK_ADMIN_KEY: gateway.adminKey });
      const traced = await runCli(["keys", "list"], { cwd, env, nodeArgs: ["--trace-wasm-compilation-times"] });
      expect(traced.code, traced.stderr).toBe(0);
      expect(traced.stdout).toContain("No keys yet.");
      expectBaselineOnly(traced.stdout);
    } finally {
      await gateway.close();
    }
  });
});
