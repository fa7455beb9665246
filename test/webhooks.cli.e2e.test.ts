import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { isolatedEnv, killAll, randomAdminKey, removeTempDirs, runCli, seedDataDir, spawnGateway, urlWhereNothingListens, workspace } from "./support/process.js";
import { waitFor } from "./support/wait.js";
import { startReceiver, until, type Receiver } from "./support/webhook-receiver.js";

/**
 * `airlock webhooks deliveries` and `airlock webhooks resend`, as an operator uses them: through a
 * running gateway, then with it stopped, when the CLI reads the store itself.
 */
describe("airlock webhooks against a real gateway process", () => {
  const receivers: Receiver[] = [];
  afterEach(async () => {
    await killAll();
    for (const receiver of receivers.splice(0)) await receiver.close();
  });
  afterAll(removeTempDirs);

  it("lists failed deliveries, resends one once the receiver is fixed, and lists from the store with the gateway stopped", async () => {
    const receiver = await startReceiver(400);
    receivers.push(receiver);
    const { cwd, dataDir } = await workspace();
    await writeFile(
      path.join(cwd, "airlock.config.yaml"),
      ["providers: { demo: { type: mock } }", 'models: [{ id: "demo/m", price: { input: "1", output: "2", per: "1M" } }]', "notifications:", "  webhooks:", `    - { name: ops, url: "${receiver.url}/ops" }`].join("\n"),
    );
    await seedDataDir(dataDir);
    const env = isolatedEnv({ AIRLOCK_DATA_DIR: dataDir, AIRLOCK_ADMIN_KEY: randomAdminKey() });
    const gateway = await spawnGateway({ cwd, env, args: ["--port", "0", "--host", "127.0.0.1"] });
    const cli = (...args: string[]) => runCli([...args, "--url", gateway.url], { cwd, env });

    const flip = await fetch(`${gateway.url}/admin/kill-switch`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.AIRLOCK_ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ active: true, reason: "cli drill" }),
    });
    expect(flip.status).toBe(200);
    const { value: listed } = await waitFor(
      async () => JSON.parse((await cli("webhooks", "deliveries", "--status", "failed", "--json")).stdout) as { data: Array<Record<string, any>>; nextCursor: string | null },
      (page) => page.data.length === 1,
      15_000,
    );
    const failed = listed.data[0]!;
    expect(failed).toMatchObject({ webhook: "ops", event: "kill_switch.flipped", status: "failed", lastStatus: 400, lastError: "HTTP 400" });
    expect(listed.nextCursor).toBeNull();
    const shown = await cli("webhooks", "deliveries", "--webhook", "ops");
    expect(shown).toMatchObject({ code: 0, stderr: "" });
    expect(shown.stdout).toMatch(new RegExp(`^${failed.id}\\s+ops\\s+kill_switch.flipped\\s+failed\\s+1\\s+400\\s+HTTP 400`, "m"));

    const unknown = await cli("webhooks", "resend", "dlv_nothing");
    expect(unknown).toMatchObject({ code: 1, stdout: "" });
    expect(unknown.stderr).toContain('not_found: no webhook delivery "dlv_nothing"');

    receiver.answerWith!(200);
    const resent = await cli("webhooks", "resend", failed.id);
    expect(resent).toMatchObject({ code: 0, stderr: "" });
    const resentId = /^Resent \S+ as (\S+) \(pending\)/.exec(resent.stdout)?.[1];
    expect(resent.stdout).toContain(`Resent ${failed.id} as ${resentId} (pending): event ${failed.eventId} (kill_switch.flipped) to webhook "ops".`);
    await until(() => receiver.received.length, (n) => n === 2);
    expect(receiver.received[1]!.headers["x-airlock-event-id"]).toBe(failed.eventId);
    expect(receiver.received[1]!.headers["x-airlock-delivery"]).toBe(resentId);

    const again = await cli("webhooks", "resend", failed.id, "--json");
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ resentFrom: failed.id, eventId: failed.eventId, status: "pending" });
    await until(() => receiver.received.length, (n) => n === 3);
    // Both resends delivered: the store is now read with the gateway stopped.
    await waitFor(
      async () => (JSON.parse((await cli("webhooks", "deliveries", "--status", "delivered", "--json")).stdout) as { data: unknown[] }).data.length,
      (n) => n === 2,
      15_000,
    );
    expect(await gateway.stop()).toBe(0);

    // No gateway answers there, so the CLI reads the store itself.
    const offline = { cwd, env: { ...env, AIRLOCK_URL: await urlWhereNothingListens() } };
    const paged = await runCli(["webhooks", "deliveries", "--limit", "2"], offline);
    expect(paged).toMatchObject({ code: 0, stderr: "" });
    const cursor = /More: add --cursor (\S+)$/m.exec(paged.stdout)?.[1];
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    const rest = await runCli(["webhooks", "deliveries", "--limit", "2", "--cursor", cursor!, "--json"], offline);
    expect(JSON.parse(rest.stdout)).toMatchObject({ data: [{ id: failed.id, status: "failed" }], nextCursor: null });
    // Written to the embedded store itself: the gateway's next start sends it, as the same event.
    const queued = await runCli(["webhooks", "resend", failed.id], offline);
    expect(queued).toMatchObject({ code: 0, stderr: "" });
    expect(queued.stdout).toContain(`Written through the store in ${dataDir} (no gateway running).`);
    await spawnGateway({ cwd, env, args: ["--port", "0", "--host", "127.0.0.1"] });
    await until(() => receiver.received.length, (n) => n === 4);
    expect(receiver.received[3]!.headers["x-airlock-event-id"]).toBe(failed.eventId);
  }, 90_000);
});
