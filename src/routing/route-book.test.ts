import { afterEach, describe, expect, it } from "vitest";
import { operationSchema, type OperationConfig } from "../config/schema.js";
import { silentLogger } from "../core/logger.js";
import { freshStore, STORE_KINDS, type TestStore } from "../../test/support/stores.js";
import { RouteBook, type RouteSet } from "./route-book.js";

const route = (model: string, fallbacks: string[] = []): OperationConfig => operationSchema.parse({ model, fallbacks });

describe.each(STORE_KINDS)("RouteBook on %s", (kind) => {
  let store: TestStore | undefined;
  afterEach(async () => {
    await store?.cleanup();
    store = undefined;
  });

  async function book(seeds: Record<string, OperationConfig>, applied: RouteSet[] = []): Promise<RouteBook> {
    store ??= await freshStore(kind);
    const routes = new RouteBook({
      db: store.database.db,
      logger: silentLogger,
      seeds: new Map(Object.entries(seeds)),
      world: () => ({ modelIds: new Set(["p/a", "p/b"]), tiers: {} }),
      apply: (set) => void applied.push(set),
      announce: async () => undefined,
    });
    await routes.start();
    return routes;
  }

  it("refuses one of two concurrent saves that together would make a cycle", async () => {
    const routes = await book({ a: route("p/a"), b: route("p/b") });
    const results = await Promise.allSettled([routes.put("a", route("p/a", ["b"]), "key_1"), routes.put("b", route("p/b", ["a"]), "key_2")]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const refused = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ code: "invalid_request", message: expect.stringContaining("fallback cycle") });
    await routes.reload();
    const chains = routes.list().map((r) => `${r.name}:${r.definition.fallbacks.join(",")}`);
    expect(chains.filter((c) => c.endsWith(":a") || c.endsWith(":b"))).toHaveLength(1);
  });

  it("applies every reload in order, the last one reflecting the last write", async () => {
    const applied: RouteSet[] = [];
    const routes = await book({ a: route("p/a") }, applied);
    await Promise.all([routes.put("a", route("p/b"), "k"), routes.reload(), routes.reload(), routes.patch("a", { enabled: false }, "k")]);
    const last = applied.at(-1)!.routes.get("a")!;
    expect(last).toMatchObject({ model: "p/b", enabled: false });
    expect(routes.get("a")).toMatchObject({ source: "admin", updatedBy: "k" });
  });
});
