import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { enqueueDeliveries } from "../src/store/queries/webhooks.js";
import { rowsOf } from "../src/store/queries/rows.js";
import { api, BOOTSTRAP_ADMIN_ID, routesSuite, type Instance } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";
import { waitFor } from "./support/wait.js";
import { startReceiver, until, type Receiver } from "./support/webhook-receiver.js";

/**
 * What an admin does with webhook deliveries: lists them by status and webhook, a page at a time, and
 * resends a failed one to a receiver that was fixed, as the same event.
 */
describe.each(STORE_KINDS)("webhook deliveries through the admin API on %s", (kind) => {
  const { config, gateway } = routesSuite(kind);
  const receivers: Receiver[] = [];
  afterEach(async () => {
    for (const receiver of receivers.splice(0)) await receiver.close();
  });

  const list = async (gw: Instance, query: string) => {
    const res = await api(gw, "GET", `/admin/webhooks/deliveries?${query}`);
    expect(res.status).toBe(200);
    return res.body as { data: Array<Record<string, any>>; nextCursor: string | null };
  };

  it("lists deliveries by status and webhook, newest first, a page at a time without skipping or repeating one", async () => {
    const ok = await startReceiver();
    const broken = await startReceiver(400);
    const hanging = await startReceiver("hang");
    receivers.push(ok, broken, hanging);
    const gw = await gateway(
      config({
        notifications: {
          webhooks: [
            { name: "ok", url: ok.url },
            { name: "broken", url: broken.url },
            { name: "slow", url: hanging.url },
          ],
        },
      }),
    );
    // Each flip queues one delivery per webhook in one statement: three rows with the same created_at.
    for (let i = 0; i < 5; i++) expect((await api(gw, "POST", "/admin/kill-switch", { active: i % 2 === 0, reason: `flip ${i}` })).status).toBe(200);
    await waitFor(
      () => list(gw, "limit=100"),
      (page) => page.data.filter((d) => d.status !== "pending").length === 10,
      10_000,
    );

    const failed = await list(gw, "status=failed");
    expect(failed.data.map((d) => [d.webhook, d.status, d.lastStatus, d.lastError])).toEqual(Array(5).fill(["broken", "failed", 400, "HTTP 400"]));
    expect(failed.nextCursor).toBeNull();
    expect((await list(gw, "webhook=ok")).data.map((d) => d.status)).toEqual(Array(5).fill("delivered"));
    expect((await list(gw, "status=pending&webhook=slow")).data).toHaveLength(5);
    expect(await list(gw, "status=delivered&webhook=broken")).toEqual({ data: [], nextCursor: null });
    const all = (await list(gw, "limit=100")).data;
    const whole = all.map((d) => d.id as string);
    expect(whole).toHaveLength(15);
    // Newest first: each event is queued in the background, so in the order the store wrote them.
    const times = all.map((d) => Date.parse(d.createdAt));
    expect(times).toEqual([...times].sort((x, y) => y - x));
    expect(new Set(all.map((d) => (d.body as { data: { reason: string } }).data.reason))).toEqual(new Set(["flip 0", "flip 1", "flip 2", "flip 3", "flip 4"]));
    // Pages of 4 cut through the rows of one flip; a flip between two pages puts its rows before the cursor, not in a later page.
    const paged: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { data: Array<Record<string, any>>; nextCursor: string | null } = await list(gw, `limit=4${cursor ? `&cursor=${cursor}` : ""}`);
      paged.push(...page.data.map((d) => d.id as string));
      cursor = page.nextCursor;
      if (++pages === 1) expect((await api(gw, "POST", "/admin/kill-switch", { active: false, reason: "between pages" })).status).toBe(200);
    } while (cursor !== null);
    expect(pages).toBe(4);
    expect(paged).toEqual(whole);

    // Filters and the cursor together, once the flip between pages has failed too: failed ones two by two.
    const { value: allFailed } = await waitFor(() => list(gw, "status=failed"), (page) => page.data.length === 6, 10_000);
    const first = await list(gw, "status=failed&limit=2");
    const second = await list(gw, `status=failed&limit=2&cursor=${first.nextCursor}`);
    expect([...first.data, ...second.data].map((d) => d.id)).toEqual(allFailed.data.slice(0, 4).map((d) => d.id));

    const refusals = await Promise.all([
      api(gw, "GET", "/admin/webhooks/deliveries?status=lost"),
      api(gw, "GET", "/admin/webhooks/deliveries?cursor=not-a-cursor"),
      api(gw, "GET", `/admin/webhooks/deliveries?cursor=${Buffer.from("12.x").toString("base64")}=`),
    ]);
    expect(refusals.map((r) => [r.status, r.body.error.param])).toEqual([
      [400, "status"],
      [400, "cursor"],
      [400, "cursor"],
    ]);
    const user = (await api(gw, "POST", "/admin/keys", { name: "someone", kind: "user" })).body;
    const forbidden = await api(gw, "GET", "/admin/webhooks/deliveries", undefined, user.key);
    expect([forbidden.status, forbidden.body.error.code]).toEqual([403, "forbidden"]);
  });

  it("resends a failed delivery as a new delivery of the same event, audited, once the receiver is fixed", async () => {
    const receiver = await startReceiver(400);
    receivers.push(receiver);
    const gw = await gateway(config({ notifications: { webhooks: [{ name: "ops", url: `${receiver.url}/hook`, secret: "whsec-resend" }] } }));
    expect((await api(gw, "POST", "/admin/kill-switch", { active: true, reason: "drill" })).status).toBe(200);
    const { value: failedPage } = await waitFor(() => list(gw, "status=failed"), (page) => page.data.length === 1, 10_000);
    const failed = failedPage.data[0]!;
    expect(receiver.received).toHaveLength(1);

    // Neither a key that is not an admin's nor an unknown id queues anything.
    const user = (await api(gw, "POST", "/admin/keys", { name: "someone", kind: "user" })).body;
    const forbidden = await api(gw, "POST", `/admin/webhooks/deliveries/${failed.id}/resend`, undefined, user.key);
    expect([forbidden.status, forbidden.body.error.code]).toEqual([403, "forbidden"]);
    const unknown = await api(gw, "POST", "/admin/webhooks/deliveries/dlv_nothing/resend");
    expect([unknown.status, unknown.body.error.code, unknown.body.error.message]).toEqual([404, "not_found", 'no webhook delivery "dlv_nothing"']);

    receiver.answerWith!(200);
    const resent = await api(gw, "POST", `/admin/webhooks/deliveries/${failed.id}/resend`);
    expect(resent.status).toBe(201);
    expect(resent.body).toMatchObject({ eventId: failed.eventId, webhook: "ops", event: "kill_switch.flipped", status: "pending", attempts: 0, lastError: null, resentFrom: failed.id, body: failed.body });
    expect(resent.body.id).not.toBe(failed.id);

    await until(() => receiver.received.length, (n) => n === 2);
    const [before, after] = receiver.received;
    // The same event: its id and body as first sent, so a receiver deduplicates it; a delivery id of its own.
    expect(after!.headers["x-airlock-event-id"]).toBe(failed.eventId);
    expect(after!.body).toBe(before!.body);
    expect(after!.headers["x-airlock-delivery"]).toBe(resent.body.id);
    expect(after!.path).toBe("/hook");
    expect(after!.headers["x-airlock-signature-v2"]).toMatch(/^sha256=[0-9a-f]{64}$/);

    const { value: rows } = await waitFor(() => list(gw, "limit=10"), (page) => page.data[0]?.status === "delivered", 10_000);
    expect(rows.data.map((d) => [d.id, d.status, d.resentFrom])).toEqual([
      [resent.body.id, "delivered", failed.id],
      [failed.id, "failed", null],
    ]);

    // Only a failed delivery is resent: the delivered one is refused, saying why.
    const again = await api(gw, "POST", `/admin/webhooks/deliveries/${resent.body.id}/resend`);
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: "conflict", message: `only a failed delivery can be resent; "${resent.body.id}" is delivered (it was delivered)`, status: "delivered" });

    const audit = (await api(gw, "GET", "/admin/audit?action=webhook_delivery.resend")).body.data;
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: "webhook_delivery.resend", target: failed.id, actor: BOOTSTRAP_ADMIN_ID, actorKind: "admin", outcome: "applied" });
    expect(audit[0].details).toEqual({ delivery: resent.body.id, webhook: "ops", event: "kill_switch.flipped", eventId: failed.eventId });
  });

  it("refuses to resend a delivery whose webhook no running instance has, and one still being sent", async () => {
    const hanging = await startReceiver("hang");
    receivers.push(hanging);
    const gw = await gateway(config({ notifications: { webhooks: [{ name: "slow", url: hanging.url }] } }));
    const db = gw.plane.database.db;
    await enqueueDeliveries(db, [{ id: "dlv_removed", eventId: "evt_removed", webhook: "removed", event: "kill_switch.flipped", body: { id: "evt_removed" } }]);
    await db.execute(sql`update webhook_deliveries set status = 'failed', last_error = 'HTTP 500' where id = 'dlv_removed'`);
    const unsendable = await api(gw, "POST", "/admin/webhooks/deliveries/dlv_removed/resend");
    expect(unsendable.status).toBe(400);
    expect(unsendable.body.error).toMatchObject({ code: "invalid_request", webhook: "removed" });
    expect(unsendable.body.error.message).toMatch(/^no running instance has a webhook named "removed" configured/);

    expect((await api(gw, "POST", "/admin/kill-switch", { active: true, reason: "drill" })).status).toBe(200);
    await until(() => hanging.received.length, (n) => n === 1);
    const pending = (await list(gw, "webhook=slow")).data[0]!;
    const refused = await api(gw, "POST", `/admin/webhooks/deliveries/${pending.id}/resend`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: "conflict", status: "pending" });
    const counted = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from webhook_deliveries`));
    expect(counted[0]!.n).toBe(2);
    expect((await api(gw, "GET", "/admin/audit?action=webhook_delivery.resend")).body.data).toEqual([]);
  });
});
