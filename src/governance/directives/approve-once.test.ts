import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { freshStore, STORE_KINDS, type TestStore } from "../../../test/support/stores.js";
import type { Principal } from "../../auth/principal.js";
import { silentLogger } from "../../core/logger.js";
import { Metrics } from "../../telemetry/metrics.js";
import { AuditLog } from "../audit-log.js";
import { ArtifactWriter, LocalObjectStore } from "../executions/artifact-store.js";
import { Directives } from "./directives.js";
import { DEFAULT_POLICY } from "./policy.js";

const agent: Principal = { keyId: "key_agent", name: "agent", kind: "agent", userId: null, teamId: null, orgId: null };
const admin: Principal = { keyId: "key_admin", name: "admin", kind: "admin", userId: null, teamId: null, orgId: null };

/**
 * The policy asks for one approval, by an admin who did not issue the directive. The same admin sending
 * it twice, one after the other or at once, approves it once: one approval recorded, one audit row.
 */
describe.each(STORE_KINDS)("one admin approving a directive twice on %s", (kind) => {
  let store: TestStore;
  let dir: string;
  beforeEach(async () => {
    store = await freshStore(kind);
    dir = await mkdtemp(path.join(os.tmpdir(), "airlock-approve-once-"));
  });
  afterEach(async () => {
    await store.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it("counts once, and the second is refused naming the status it found", async () => {
    const artifacts = new ArtifactWriter(store.database.db, new LocalObjectStore(dir));
    const directives = new Directives({ db: store.database.db, logger: silentLogger, policy: DEFAULT_POLICY, metrics: new Metrics(), artifacts, maxPendingPerKey: 50 });
    const approvals = async (id: string) => (await new AuditLog(store.database.db).recent(100, { since: new Date(0), action: "directive.approve" })).filter((r) => r.target === id);

    const one = await directives.create({ role: "ops", type: "echo", objective: "once", scope: "staging", budget: "$5" }, agent);
    await directives.propose(one.id, agent);
    expect((await directives.approve(one.id, admin)).status).toBe("approved");
    await expect(directives.approve(one.id, admin)).rejects.toMatchObject({ code: "conflict", status: 409, details: { status: "approved", requested: "approved" } });
    expect(await approvals(one.id)).toHaveLength(1);

    const two = await directives.create({ role: "ops", type: "echo", objective: "at once", scope: "staging", budget: "$5" }, agent);
    await directives.propose(two.id, agent);
    const outcomes = await Promise.allSettled([directives.approve(two.id, admin), directives.approve(two.id, admin)]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(await approvals(two.id)).toEqual([expect.objectContaining({ actor: admin.keyId, details: { type: "echo", from: "proposed", to: "approved" } })]);
    expect((await directives.get(two.id)).approvedBy).toBe(admin.keyId);
  });
});
