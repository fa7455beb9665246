import { createHmac } from "node:crypto";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { apiKeys } from "../src/store/schema/index.js";
import { startTestGateway } from "./support/gateway.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * A dashboard session is signed with a secret the store does not hold. The store keeps each key's
 * SHA-256 hash, which is safe to read only as long as nothing accepts the hash as a credential: anyone
 * who can read the api_keys table (a reporting role on PostgreSQL, a copy of a backup, another user of
 * the machine reading an embedded store's files) must not be able to make a session of an admin key.
 */
const sign = (secret: string, text: string) => createHmac("sha256", secret).update(text).digest("base64url");

describe.each(STORE_KINDS)("dashboard session secrets on %s", (kind) => {
  it("refuses a session cookie and CSRF token made from a key's stored hash", async () => {
    const gw = await startTestGateway(kind, { providers: { mock: { type: "mock" } }, models: [{ id: "mock/m", price: { input: "1", output: "1", per: "1M" } }] });
    try {
      const created = await fetch(`${gw.url}/admin/keys`, {
        method: "POST",
        headers: { authorization: `Bearer ${gw.adminKey}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "ops admin", kind: "admin" }),
      });
      expect(created.status).toBe(201);
      const key = (await created.json()) as { id: string; key: string };
      const [row] = await gw.plane.database.db.select().from(apiKeys).where(eq(apiKeys.id, key.id));
      expect(row?.keyHash).toMatch(/^[0-9a-f]{64}$/);

      // What the store's reader can make: the session format is documented in the code and not a secret.
      const body = `${key.id}.${Date.now() + 3_600_000}`;
      const forged = { cookie: `airlock_session=${body}.${sign(row!.keyHash, `session:${body}`)}`, "x-csrf-token": sign(row!.keyHash, `csrf:${body}`) };
      const session = await fetch(`${gw.url}/dashboard/session`, { headers: { cookie: forged.cookie } });
      expect(await session.json()).toEqual({ signedIn: false });
      const read = await fetch(`${gw.url}/admin/keys`, { headers: { cookie: forged.cookie } });
      expect(read.status).toBe(401);
      const flip = await fetch(`${gw.url}/admin/kill-switch`, {
        method: "POST",
        headers: { ...forged, "content-type": "application/json" },
        body: JSON.stringify({ active: true, reason: "forged" }),
      });
      expect(flip.status).toBe(401);
      expect(gw.plane.killSwitch.status().global?.active ?? false).toBe(false);

      // The key itself still signs in, and its session works.
      const login = await fetch(`${gw.url}/dashboard/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ key: key.key }) });
      expect(login.status).toBe(200);
      const cookie = /^airlock_session=[^;]+/.exec(login.headers.get("set-cookie") ?? "")?.[0];
      expect((await fetch(`${gw.url}/admin/keys`, { headers: { cookie: cookie ?? "" } })).status).toBe(200);
    } finally {
      await gw.close();
    }
  });
});
