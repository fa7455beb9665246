import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/process.js";

const execFileAsync = promisify(execFile);

/**
 * The package as an application loads it, by its name (a package may name itself from inside its own
 * folder, through the same `exports` map an installed copy is resolved by): `import` from ES modules and
 * `require` from CommonJS, which Node runs on an ES module since 20.19 and 22.12, when `exports` offers
 * it a condition it reads. Run on the build, as an installed package is.
 */
describe("the package entry", () => {
  const load = async (code: string) => {
    const built = path.join(REPO_ROOT, "dist", "index.js");
    if (!existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` first (npm ci runs it)`);
    const { stdout } = await execFileAsync(process.execPath, ["-e", code], { cwd: REPO_ROOT, env: { ...process.env, NODE_NO_WARNINGS: "1" } });
    return stdout.trim();
  };

  it("is imported by name from an ES module", async () => {
    const code = `import("airlock").then((m) => console.log(typeof m.createAirlock, new m.AirlockError("timeout", "x").status, new m.ConfigError("x") instanceof m.AirlockError))`;
    expect(await load(code)).toBe("function 504 true");
  });

  it("is required by name from CommonJS", async () => {
    const code = `const m = require("airlock"); console.log(typeof m.createAirlock, new m.AirlockError("rate_limited", "x").isRetryable, typeof m.StoreInUseError)`;
    expect(await load(code)).toBe("function true function");
  });
});
