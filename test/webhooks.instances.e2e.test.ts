import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { enqueueDeliveries } from "../src/store/queries/webhooks.js";
import { api, routesSuite } from "./support/routing.js";
import { randomAdminKey } from "./support/process.js";
import { STORE_KINDS } from "./support/stores.js";
import { startReceiver, until, type Receiver } from "./support/webhook-receiver.js";

/**
 * Webhooks across instances on one store: each instance sends only its own webhooks' deliveries and
 * leaves the rest to an instance that has them (a rolling deploy), a delivery no running instance can
 * send ends failed, saying why, and an instance that stops hands back what it was sending.
 */
describe.each(STORE_KINDS)("webhooks across instances on %s", (kind) => {
  const { config, store, instance } = routesSuite(kind);
  const receivers: Receiver[] = [];
  afterEach(async () => {
    for (const receiver of receivers.splice(0)) await receiver.close();
  });

  it("hands back a delivery cut off by its instance closing, for the next instance to send at once, the attempt not counted", async () => {
    const hanging = await startReceiver("hang");
    const healthy = await startReceiver();
    receivers.push(hanging, healthy);
    const shared = await store();
    const adminKey = randomAdminKey();
    const first = await instance(shared.database, config({ notifications: { webhooks: [{ name: "ops", url: hanging.url }] } }), adminKey);
    expect((await api(first, "POST", "/admin/kill-switch", { active: true, reason: "drill" })).status).toBe(200);
    await until(() => hanging.received.length, (n) => n === 1);
    await first.close(); // a restart, with the attempt still waiting for its answer
    // The receiver is at a new address by the next start; the delivery is not held for the 30 s lock.
    const next = await instance(shared.database, config({ notifications: { webhooks: [{ name: "ops", url: healthy.url }] } }), adminKey);
    await until(() => healthy.received.length, (n) => n === 1, 10_000);
    expect(healthy.received[0]!.json.data.reason).toBe("drill");
    const row = async () => (await api(next, "GET", "/admin/webhooks/deliveries?limit=5")).body.data[0];
    for (let i = 0; i < 200 && (await row()).status === "pending"; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await row()).toMatchObject({ status: "delivered", attempts: 1, lastStatus: 200, lastError: null });
  });

  it("leaves a delivery of a webhook it does not know to an instance that knows it, as in a rolling deploy", async () => {
    const common = await startReceiver();
    const added = await startReceiver();
    receivers.push(common, added);
    const shared = await store();
    // The new file adds webhook "added"; an instance still on the old file shares the store.
    const newFile = config({ notifications: { webhooks: [{ name: "common", url: common.url }, { name: "added", url: added.url }] } });
    const oldFile = config({ notifications: { webhooks: [{ name: "common", url: common.url }] } });
    const adminKey = randomAdminKey();
    // A third instance, with no webhooks, shares the store throughout (on the embedded store, a second plane in this process).
    await instance(shared.database, config(), adminKey);
    const first = await instance(shared.database, newFile, adminKey);
    await first.close(); // restarted: its delivery waits for the next instance on the new file
    await enqueueDeliveries(shared.database.db, [{ id: "dlv_added", eventId: "evt_added", webhook: "added", event: "kill_switch.flipped", body: { id: "evt_added" } }]);
    const old = await instance(shared.database, oldFile, adminKey);
    // Two flips, the second raised once the first was received: the old instance has run a whole round with "added"'s delivery due.
    for (const reason of ["one", "two"]) {
      expect((await api(old, "POST", "/admin/kill-switch", { active: true, reason })).status).toBe(200);
      await until(() => common.received.map((r) => r.json.data.reason), (reasons) => reasons.includes(reason));
    }
    const row = async () => (await api(old, "GET", "/admin/webhooks/deliveries?limit=10")).body.data.find((d: any) => d.id === "dlv_added");
    expect(await row()).toMatchObject({ status: "pending", attempts: 0, lastError: null });
    expect(added.received).toHaveLength(0);

    await instance(shared.database, newFile, adminKey);
    await until(() => added.received.length, (n) => n === 1);
    for (let i = 0; i < 200 && (await row()).status === "pending"; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await row()).toMatchObject({ status: "delivered", attempts: 1, lastStatus: 200 });
  });

  it("ends a delivery once no running instance has its webhook, and an event for every webhook once none has any, saying why", async () => {
    const shared = await store();
    const db = shared.database.db;
    const queued = (id: string, webhook: string) => ({ id, eventId: `evt_${id}`, webhook, event: "kill_switch.flipped", body: { id } });
    await enqueueDeliveries(db, [queued("renamed", "renamed"), queued("gone", "gone"), queued("elsewhere", "elsewhere"), queued("cli", "*")]);
    // "gone" was sent by an instance not heard of for longer than a live one renews; "elsewhere" by one still running.
    await db.execute(sql`insert into webhook_senders (instance, webhooks, seen_at) values
      ('sender_stopped', '["gone"]', now() - interval '31 seconds'), ('sender_running', '["elsewhere"]', now())`);
    // An instance with no webhooks of its own still ends them: a file that dropped every webhook leaves nothing pending for ever.
    const inst = await instance(shared.database, config());
    if (kind === "pglite") {
      // The embedded store is this process's alone: whatever other senders it names are gone, and what they sent ends at once.
      const rows = async () => new Map<string, any>((await api(inst, "GET", "/admin/webhooks/deliveries?limit=10")).body.data.map((d: any) => [d.id, d]));
      for (let i = 0; i < 400 && (await rows()).get("renamed").status === "pending"; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      const ended = await rows();
      expect([...ended.values()].map((d) => [d.id, d.status]).sort()).toEqual([["cli", "failed"], ["elsewhere", "failed"], ["gone", "failed"], ["renamed", "failed"]]);
      expect(ended.get("elsewhere")).toMatchObject({ attempts: 0, lastError: 'no running instance has a webhook named "elsewhere" configured any more' });
      expect(ended.get("cli")).toMatchObject({ lastError: "no running instance has a webhook configured to send this event to" });
      return;
    }
    const rows = async () => new Map<string, any>((await api(inst, "GET", "/admin/webhooks/deliveries?limit=10")).body.data.map((d: any) => [d.id, d]));
    for (let i = 0; i < 400 && (await rows()).get("renamed").status === "pending"; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    const ended = await rows();
    expect(ended.get("renamed")).toMatchObject({ status: "failed", attempts: 0, lastError: 'no running instance has a webhook named "renamed" configured any more' });
    expect(ended.get("gone")).toMatchObject({ status: "failed", attempts: 0, lastError: 'no running instance has a webhook named "gone" configured any more' });
    // A running instance has webhooks, so the CLI's event may yet be fanned out by one: it waits too.
    expect(ended.get("elsewhere")).toMatchObject({ status: "pending", lastError: null });
    expect(ended.get("cli")).toMatchObject({ status: "pending" });
    await db.execute(sql`delete from webhook_senders where instance = 'sender_running'`);
    for (let i = 0; i < 800 && (await rows()).get("cli").status === "pending"; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await rows()).get("cli")).toMatchObject({ status: "failed", lastError: "no running instance has a webhook configured to send this event to" });
    expect((await rows()).get("elsewhere")).toMatchObject({ status: "failed", lastError: 'no running instance has a webhook named "elsewhere" configured any more' });
  });
});
