import { rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isolatedEnv, killAll, randomAdminKey, removeTempDirs, spawnGateway, workspace } from "./support/process.js";
import { waitFor } from "./support/wait.js";

/**
 * The configuration file is read at start. An operator who edits it while the gateway runs is told
 * that the edit is not in force (and whether it would even load), instead of finding out at the next
 * restart; what the gateway serves does not change.
 */
describe("airlock start: the configuration file edited while it runs", () => {
  afterAll(async () => {
    await killAll();
    await removeTempDirs();
  });

  const config = (reply: string) =>
    `providers:\n  m: { type: mock, reply: "${reply}" }\n  o: { type: openai-compatible, baseUrl: "https://api.openai.com/v1", apiKey: "sk-live-KEEP-OUT-OF-LOGS" }\nmodels:\n  - id: m/x\n  - id: o/gpt-4o\n`;

  it("logs that a changed file needs a restart, that a broken one would not load, and keeps serving what it started with", async () => {
    const { cwd, dataDir } = await workspace();
    const file = path.join(cwd, "airlock.config.yaml");
    await writeFile(file, config("first"));
    const adminKey = randomAdminKey();
    const gw = await spawnGateway({ cwd, env: isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: adminKey }), args: ["--port", "0", "--host", "127.0.0.1"] });
    const ask = async () => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" }, body: JSON.stringify({ model: "m/x", messages: [{ role: "user", content: "hi" }] }) });
      return ((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content;
    };
    const said = (msg: string) => async () => gw.logLines().filter((l) => l.msg === msg);
    expect(await ask()).toBe("first");

    // Saved the way many editors save: a new file renamed over the old one.
    await writeFile(`${file}.tmp`, config("second"));
    await rename(`${file}.tmp`, file);
    const { value: changed } = await waitFor(said("configuration file changed: restart the gateway to apply it"), (l) => l.length > 0, 10_000);
    expect(changed[0]).toMatchObject({ level: 40, config: file, configHash: expect.stringMatching(/^[0-9a-f]{16}$/), fileHash: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(changed[0]!.fileHash).not.toBe(changed[0]!.configHash);
    expect(await ask()).toBe("first");

    // Half written: the quote never closed on the line with the key.
    await writeFile(file, `providers:\n  o: { type: openai-compatible, baseUrl: "https://api.openai.com/v1", apiKey: "sk-live-KEEP-OUT-OF-LOGS }\n`);
    const { value: broken } = await waitFor(said("configuration file changed and would not load; the running configuration stays"), (l) => l.length > 0, 10_000);
    expect(broken[0]).toMatchObject({ level: 50, config: file, problem: expect.stringContaining("is not valid YAML") });
    expect(gw.logs()).not.toContain("KEEP-OUT-OF-LOGS");
    expect(await ask()).toBe("first");

    // Put back as it was: said once, so the last line tells the state.
    await writeFile(file, config("first"));
    await waitFor(said("configuration file matches the running configuration again"), (l) => l.length > 0, 10_000);
    expect(await gw.stop()).toBe(0);
  }, 60_000);
});
