import { describe, expect, it } from "vitest";
import { routesSuite, type Instance } from "./support/routing.js";
import { STORE_KINDS } from "./support/stores.js";

/**
 * Signing out of the dashboard ends the session itself, not only the browser's copy of its cookie: a
 * copy taken before the sign-out stops working on this instance at once, on another instance on the
 * same store within a second, and on an instance started later.
 */
async function signIn(gw: Instance): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${gw.url}/dashboard/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ key: gw.adminKey }) });
  expect(res.status).toBe(200);
  const cookie = /^airlock_session=([^;]+)/.exec(res.headers.get("set-cookie") ?? "")?.[1];
  if (!cookie) throw new Error("no session cookie");
  return { cookie, csrf: ((await res.json()) as { csrf: string }).csrf };
}

const withCookie = (cookie: string) => ({ cookie: `airlock_session=${cookie}` });
/** Whether the cookie signs anyone in: the session read answers 200 either way, `{signedIn: false}` for no one. */
async function signedIn(gw: Instance, cookie: string): Promise<boolean> {
  const res = await fetch(`${gw.url}/dashboard/session`, { headers: withCookie(cookie) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { signedIn: boolean }).signedIn;
}

describe.each(STORE_KINDS)("dashboard sign-out on %s", (kind) => {
  const { config, store, instance, pair } = routesSuite(kind);

  it("ends the session on every instance, so a copy of the cookie no longer works", async () => {
    const { a, b, databaseB, adminKey } = await pair(config());

    const copied = await signIn(a);
    // A session is its key and its expiry to the millisecond: the second sign-in must be a later one.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const kept = await signIn(a);
    expect(kept.cookie).not.toBe(copied.cookie);
    expect(await signedIn(a, copied.cookie)).toBe(true);
    expect(await signedIn(b, copied.cookie)).toBe(true);
    expect((await fetch(`${b.url}/admin/calls`, { headers: withCookie(copied.cookie) })).status).toBe(200);

    const out = await fetch(`${a.url}/dashboard/logout`, { method: "POST", headers: { ...withCookie(copied.cookie), "x-csrf-token": copied.csrf, "content-type": "application/json" }, body: "{}" });
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toMatch(/^airlock_session=; .*Max-Age=0/);

    expect(await signedIn(a, copied.cookie)).toBe(false);
    const admin = await fetch(`${a.url}/admin/calls`, { headers: withCookie(copied.cookie) });
    expect(admin.status).toBe(401);
    expect(((await admin.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    const signedOutAt = performance.now();
    while (await signedIn(b, copied.cookie)) {
      expect(performance.now() - signedOutAt, "the other instance still accepts the session").toBeLessThan(1_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    // Another sign-in of the same key is a session of its own, and still works.
    expect(await signedIn(b, kept.cookie)).toBe(true);
    // An instance started after the sign-out reads it from the store.
    const c = await instance(databaseB, config(), adminKey);
    expect(await signedIn(c, copied.cookie)).toBe(false);
    expect(await signedIn(c, (await signIn(c)).cookie)).toBe(true);
  });

  it("signs out without a session, or with a cookie that proves none, and changes nothing", async () => {
    const shared = await store();
    const a = await instance(shared.database, config());
    const live = await signIn(a);
    for (const headers of [{}, withCookie("forged.1.x"), withCookie(`${live.cookie.split(".").slice(0, 2).join(".")}.wrong`)]) {
      const res = await fetch(`${a.url}/dashboard/logout`, { method: "POST", headers });
      expect(res.status).toBe(200);
    }
    expect(await signedIn(a, live.cookie)).toBe(true);
  });

  it("does not end a live session for a request without its CSRF token", async () => {
    const shared = await store();
    const a = await instance(shared.database, config());
    const live = await signIn(a);
    for (const token of [undefined, "", `${live.csrf}x`]) {
      const headers = { ...withCookie(live.cookie), ...(token === undefined ? {} : { "x-csrf-token": token }) };
      const res = await fetch(`${a.url}/dashboard/logout`, { method: "POST", headers });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: unknown }).error).toMatchObject({ code: "forbidden" });
      expect(res.headers.get("set-cookie")).toBeNull();
    }
    expect(await signedIn(a, live.cookie)).toBe(true);
  });
});
