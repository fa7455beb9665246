import { describe, expect, it } from "vitest";
import { ensureRun } from "../src/store/queries/executions.js";
import { api, routesSuite, type Instance } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

type Page = { data: Array<{ id: string; status: string }>; nextCursor: string | null };

/**
 * `GET /admin/directives` and `GET /admin/runs` page with a cursor, as webhook deliveries do: newest
 * first by when each was made, so that a directive moving on, or a new one made, while an admin pages
 * neither shifts a page nor shows a row twice.
 */
describe.each(STORE_KINDS)("paging directives and runs on %s", (kind) => {
  const { config, store, instance } = routesSuite(kind);

  async function pages(gw: Instance, path: string, between?: (page: number) => Promise<void>): Promise<{ ids: string[]; count: number }> {
    const ids: string[] = [];
    let cursor: string | null = null;
    let count = 0;
    do {
      const res = await api(gw, "GET", `${path}${path.includes("?") ? "&" : "?"}limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      const page = res.body as Page;
      ids.push(...page.data.map((d) => d.id));
      cursor = page.nextCursor;
      count++;
      await between?.(count);
    } while (cursor !== null);
    return { ids, count };
  }

  it("pages directives and runs newest first by a cursor, unmoved by changes made between pages", async () => {
    const s = await store();
    const gw = await instance(s.database, config({ governance: { execution: { enabled: false } } }));
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      const created = await api(gw, "POST", "/admin/directives", { role: "ops", type: "echo", objective: `task ${i}`, scope: "staging", budget: "$1" });
      expect(created.status).toBe(201);
      made.push(created.body.id);
    }
    const newestFirst = [...made].reverse();
    expect((await api(gw, "GET", "/admin/directives?limit=5")).body).toEqual({ data: newestFirst.map((id) => expect.objectContaining({ id })), nextCursor: null });

    // After the first page, the oldest directive changes (its newest change is now the latest) and a new one is made.
    let late = "";
    const paged = await pages(gw, "/admin/directives", async (page) => {
      if (page !== 1) return;
      expect((await api(gw, "POST", `/admin/directives/${made[0]}/propose`)).status).toBe(200);
      late = (await api(gw, "POST", "/admin/directives", { role: "ops", type: "echo", objective: "late", scope: "staging", budget: "$1" })).body.id;
    });
    expect(paged).toEqual({ ids: newestFirst, count: 3 });
    expect((await api(gw, "GET", "/admin/directives?limit=1")).body.data[0].id).toBe(late);

    // The status filter and the cursor together.
    for (const id of made.slice(1, 4)) expect((await api(gw, "POST", `/admin/directives/${id}/propose`)).status).toBe(200);
    expect((await pages(gw, "/admin/directives?status=proposed")).ids).toEqual(newestFirst.slice(1));

    // Runs page the same way; written here as a worker's start step writes them.
    for (const id of made) await ensureRun(s.database.db, { id: `run_${id.slice(4)}`, directiveId: id, module: "echo", idempotencyKey: `run_${id.slice(4)}`, workflowId: `directive:${id}`, executorId: "w" });
    const runs = await pages(gw, "/admin/runs");
    expect(runs).toEqual({ ids: newestFirst.map((id) => `run_${id.slice(4)}`), count: 3 });
    expect((await pages(gw, "/admin/runs?status=pending")).ids).toEqual(runs.ids);

    const refusals = await Promise.all([api(gw, "GET", "/admin/directives?cursor=not-a-cursor"), api(gw, "GET", `/admin/runs?cursor=${Buffer.from("12.x").toString("base64")}=`)]);
    expect(refusals.map((r) => [r.status, r.body.error.code, r.body.error.param])).toEqual([
      [400, "invalid_request", "cursor"],
      [400, "invalid_request", "cursor"],
    ]);
  });
});
