import { afterAll, describe, expect, it } from "vitest";
import { freePort, isolatedEnv, killAll, removeTempDirs, runCli, seedDataDir, workspace } from "./support/process.js";

/**
 * A CLI command that opens the embedded store runs a few statements and exits. V8's optimizing
 * compiler would spend about 0.6 s of CPU on PGlite's largest functions as the command ends, for code
 * that never runs (src/store/pglite-wasm.ts): a command leaves them to the baseline compiler.
 */
describe("a CLI command on the embedded store", () => {
  afterAll(async () => {
    await killAll();
    await removeTempDirs();
  });

  it("runs PGlite from its baseline code, sending nothing to V8's optimizing compiler", async () => {
    const { cwd, dataDir } = await workspace();
    await seedDataDir(dataDir);
    // No gateway answers here, so the command opens the store itself.
    const env = isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_URL: `http://127.0.0.1:${await freePort()}` });
    const traced = await runCli(["spend"], { cwd, env, nodeArgs: ["--trace-wasm-compilation-times"] });
    expect(traced.code, traced.stderr).toBe(0);
    expect(traced.stdout).toContain("No calls in this period.");
    // V8 traces each function's compile on stdout: PGlite's were compiled as they first ran, none optimized.
    expect(traced.stdout).toMatch(/Compiled function \S+ using Liftoff/);
    expect(traced.stdout).not.toContain("using TurboFan");
  });
});
