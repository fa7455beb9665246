import { describe, expect, it } from "vitest";
import { startPglite } from "./pglite-client.js";
import { compiledPglite } from "./pglite-wasm.js";

const { Module } = (globalThis as unknown as { WebAssembly: { Module: { exports(module: object): Array<{ name: string }> } & (abstract new () => object) } }).WebAssembly;

describe("PGlite's WebAssembly, compiled once per process", () => {
  it("is PGlite's own module, and the same one every time it is asked for", async () => {
    const first = await compiledPglite();
    expect(first).toBeInstanceOf(Module);
    expect(Module.exports(first!).map((e) => e.name)).toContain("pgl_startPGlite");
    expect(await compiledPglite()).toBe(first);
  });

  it("serves two stores open at once, each with its own data", async () => {
    const [one, two] = await Promise.all([startPglite({ migrate: false }), startPglite({ migrate: false })]);
    try {
      await one.send({ op: "exec", sql: "create table t (v text); insert into t values ('one')" });
      await two.send({ op: "exec", sql: "create table t (v text); insert into t values ('two')" });
      for (const [thread, value] of [[one, "one"], [two, "two"]] as const) {
        expect((await thread.send({ op: "query", sql: "select v from t", params: [], method: "execute" })).rows).toEqual([{ v: value }]);
      }
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });
});
