import { describe, expect, it } from "vitest";
import type { Principal } from "../auth/principal.js";
import { csrfMatches, issueSession, SESSION_TTL_MS, verifySession, type SessionSecrets } from "./sessions.js";

const admin: Principal = { keyId: "key_a", name: "ops", kind: "admin", userId: null, teamId: null, orgId: null };
const agent: Principal = { ...admin, keyId: "key_b", kind: "agent" };
const live = new Map([
  ["key_a", { principal: admin, secret: "hash-a" }],
  ["key_b", { principal: agent, secret: "hash-b" }],
]);
const secrets: SessionSecrets = (id) => live.get(id);

describe("dashboard sessions", () => {
  it("verifies its own cookie until it expires, with the same CSRF token", () => {
    const issued = issueSession(secrets, "key_a", 1_000)!;
    const verified = verifySession(secrets, issued.cookie, 2_000);
    expect(verified).toMatchObject({ principal: admin, csrf: issued.session.csrf, expiresAt: 1_000 + SESSION_TTL_MS });
    expect(csrfMatches(verified!, issued.session.csrf)).toBe(true);
    expect(csrfMatches(verified!, undefined)).toBe(false);
    expect(csrfMatches(verified!, issued.session.csrf.slice(1))).toBe(false);
    expect(verifySession(secrets, issued.cookie, 1_000 + SESSION_TTL_MS)).toBeUndefined();
  });

  it("refuses a forged, altered or revoked session, and any key that is not an admin's", () => {
    const issued = issueSession(secrets, "key_a", 1_000)!;
    const [id, expiry, signature] = issued.cookie.split(".");
    expect(verifySession(secrets, `${id}.${Number(expiry) + 1}.${signature}`, 2_000)).toBeUndefined();
    expect(verifySession(secrets, `key_b.${expiry}.${signature}`, 2_000)).toBeUndefined();
    expect(verifySession(secrets, "nonsense", 2_000)).toBeUndefined();
    expect(verifySession(() => undefined, issued.cookie, 2_000)).toBeUndefined();
    const agentSession = issueSession(secrets, "key_b", 1_000)!;
    expect(verifySession(secrets, agentSession.cookie, 2_000)).toBeUndefined();
  });
});
