import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { freshStore, STORE_KINDS, type TestStore } from "../../test/support/stores.js";
import { issueSession, verifySession } from "../dashboard/sessions.js";
import { hashKey, KeyRing } from "./keys.js";

describe("key hashes", () => {
  it("are the SHA-256 of the key in hex, as stores already hold them", () => {
    expect(hashKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hashKey("sk-al-é")).toBe(createHash("sha256").update("sk-al-é", "utf8").digest("hex"));
  });
});

describe.each(STORE_KINDS)("key ring on %s", (kind) => {
  let store: TestStore;
  beforeEach(async () => {
    store = await freshStore(kind);
  });
  afterEach(async () => {
    await store.cleanup();
  });

  it("knows a created key by token and by id, and forgets both when it is revoked", async () => {
    const ring = new KeyRing(store.database.db, undefined, 0);
    await ring.load();
    const { secret, key } = await ring.create({ name: "ops", kind: "admin" });
    const principal = await ring.authenticate(secret);
    expect(principal).toMatchObject({ keyId: key.id, name: "ops", kind: "admin" });
    expect(ring.principalOf(key.id)).toEqual(principal);

    const issued = issueSession(ring.sessionSecretOf, key.id, Date.now());
    expect(issued).toBeDefined();
    expect(verifySession(ring.sessionSecretOf, issued!.cookie, Date.now())?.principal).toEqual(principal);

    await ring.revoke(key.id);
    expect(await ring.authenticate(secret)).toBeUndefined();
    expect(ring.principalOf(key.id)).toBeUndefined();
    // The key's dashboard sessions end with it.
    expect(verifySession(ring.sessionSecretOf, issued!.cookie, Date.now())).toBeUndefined();
  });

  it("keeps a key created, and forgets one revoked, while a reload reads the store", async () => {
    // A long miss interval: only the reloads this test starts may run. On PostgreSQL each reload and
    // change go on connections of their own, so a reload can read the store before the change and finish after it.
    const ring = new KeyRing(store.database.db, undefined, 60_000);
    await ring.load();
    for (let round = 0; round < 30; round++) {
      const [made] = await Promise.all([ring.create({ name: `new-${round}`, kind: "service" }), ring.load()]);
      expect(await ring.authenticate(made.secret), `round ${round}`).toMatchObject({ keyId: made.key.id });
      await Promise.all([ring.revoke(made.key.id), ring.load()]);
      expect(await ring.authenticate(made.secret), `round ${round}`).toBeUndefined();
    }
  });

  it("loads keys another instance created, and the bootstrap admin key, with both lookups in step", async () => {
    const other = new KeyRing(store.database.db, undefined, 0);
    const { secret, key } = await other.create({ name: "reporting", kind: "user", userId: "u7" });
    const ring = new KeyRing(store.database.db, "sk-al-bootstrap-admin-secret", 0);
    await ring.load();
    expect(await ring.authenticate(secret)).toMatchObject({ keyId: key.id, userId: "u7" });
    expect(ring.principalOf(key.id)?.name).toBe("reporting");
    const admin = await ring.authenticate("sk-al-bootstrap-admin-secret");
    expect(admin).toMatchObject({ kind: "admin", name: "bootstrap admin" });
    expect(ring.principalOf(admin!.keyId)).toEqual(admin);
    expect(await ring.authenticate("sk-al-not-a-key")).toBeUndefined();
  });

  it("refuses a key past its expiry on an instance that only loaded it from the store, with its sessions, grants and runs", async () => {
    const maker = new KeyRing(store.database.db, undefined, 0);
    const expiresAt = new Date(Date.now() + 400);
    const { secret, key } = await maker.create({ name: "temp", kind: "admin", expiresAt });
    expect(key.expiresAt).toBe(expiresAt.toISOString());
    const other = new KeyRing(store.database.db, undefined, 0);
    await other.load();
    expect(await other.authenticate(secret)).toMatchObject({ keyId: key.id });
    const issued = issueSession(other.sessionSecretOf, key.id, Date.now());
    expect(issued).toBeDefined();

    while (Date.now() <= expiresAt.getTime()) await new Promise((r) => setTimeout(r, 50));
    for (const ring of [maker, other]) {
      expect(await ring.authenticate(secret)).toBeUndefined();
      expect(ring.hasExpired(secret)).toBe(true);
      expect(ring.principalOf(key.id)).toBeUndefined();
      expect(await ring.isActive(key.id)).toBe(false);
      expect(verifySession(ring.sessionSecretOf, issued!.cookie, Date.now())).toBeUndefined();
    }
    expect(other.hasExpired("sk-al-not-a-key")).toBe(false);
  });
});
