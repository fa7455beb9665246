import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { freshStore, STORE_KINDS, type TestStore } from "../../../test/support/stores.js";
import type { Principal } from "../../auth/principal.js";
import { createLogger } from "../../core/logger.js";
import { Metrics } from "../../telemetry/metrics.js";
import { ArtifactWriter, LocalObjectStore } from "../executions/artifact-store.js";
import { Directives } from "./directives.js";
import { DEFAULT_POLICY } from "./policy.js";

const agent: Principal = { keyId: "key_agent", name: "agent", kind: "agent", userId: null, teamId: null, orgId: null };
const admin: Principal = { keyId: "key_admin", name: "admin", kind: "admin", userId: null, teamId: null, orgId: null };

/**
 * An approval that lands while a proposal is being judged: the directive is already `proposed`, but
 * its new evaluation is not written yet, so the newest one the approver finds is the evaluation that
 * blocked it before, under the same policy. The approval must not take that for a pass.
 */
describe.each(STORE_KINDS)("an approval racing a proposal's judgement on %s", (kind) => {
  let store: TestStore;
  beforeEach(async () => {
    store = await freshStore(kind);
  });
  afterEach(() => store.cleanup());

  it("never approves a directive the policy in force blocks, even when it was proposed again an instant before", async () => {
    const real = new ArtifactWriter(store.database.db, new LocalObjectStore("/tmp/airlock-approval-race"));
    // The proposer's evaluation is held back until the approval has finished: the window between the
    // directive becoming `proposed` and its evaluation being kept, widened to make the race certain.
    let hold: { approve(): Promise<unknown> } | undefined;
    const artifacts = {
      async write(artifact: Parameters<ArtifactWriter["write"]>[0]): Promise<void> {
        const held = hold;
        hold = undefined;
        if (held) await held.approve().catch(() => undefined);
        await real.write(artifact);
      },
    };
    const directives = new Directives({ db: store.database.db, logger: createLogger({ level: "silent" }), policy: DEFAULT_POLICY, metrics: new Metrics(), artifacts, maxPendingPerKey: 50 });
    const created = await directives.create({ role: "ops", type: "echo", objective: "spend it", scope: "production", budget: "$5" }, agent);
    expect((await directives.propose(created.id, agent)).status).toBe("blocked");

    let approval: { status: string } | { refused: string } | undefined;
    hold = {
      approve: async () => {
        approval = await directives.approve(created.id, admin).then(
          (d) => ({ status: d.status }),
          (err: Error) => ({ refused: err.message }),
        );
      },
    };
    await directives.propose(created.id, agent).catch(() => undefined);

    expect(approval).toEqual({ refused: expect.stringContaining("blocked by the policy in force") });
    const now = await directives.get(created.id);
    expect(now.status).toBe("blocked");
    expect(now.approvedBy).toBeNull();
  });
});
