import { afterEach, describe, expect, it } from "vitest";
import { freshStore, STORE_KINDS, type TestStore } from "../../test/support/stores.js";
import { joinStore } from "./sharing.js";

describe.each(STORE_KINDS)("control planes on one %s store", (kind) => {
  let store: TestStore | undefined;
  afterEach(async () => {
    await store?.cleanup();
    store = undefined;
  });

  it(kind === "pglite" ? "has the store to itself while alone, and shares it, told once, when a second plane opens it" : "always shares it: other instances may open it at any time", async () => {
    store = await freshStore(kind);
    const told: string[] = [];
    const first = joinStore(store.database, () => told.push("first"));
    expect(first.shared).toBe(kind === "postgres");

    const second = joinStore(store.database, () => told.push("second"));
    const third = joinStore(store.database, () => told.push("third"));
    expect([first.shared, second.shared, third.shared]).toEqual([true, true, true]);
    // Only a plane that was alone hears that it no longer is, and only once.
    expect(told).toEqual(kind === "pglite" ? ["first"] : []);

    // Once shared, a plane stays shared; once all have left, the next one is alone again.
    second.leave();
    third.leave();
    expect(first.shared).toBe(true);
    first.leave();
    expect(joinStore(store.database, () => told.push("fourth")).shared).toBe(kind === "postgres");
  });
});
