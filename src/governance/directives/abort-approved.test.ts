import { describe, expect, it } from "vitest";
import { insertApprovedDirective, scratchExecutions } from "../../../test/support/executions.js";
import type { Principal } from "../../auth/principal.js";
import { silentLogger } from "../../core/logger.js";
import { AuditLog } from "../audit-log.js";
import { getRun } from "../../store/queries/executions.js";
import type { TestStore } from "../../../test/support/stores.js";
import { STORE_KINDS } from "../../../test/support/stores.js";
import { Metrics } from "../../telemetry/metrics.js";
import type { DurableStep } from "../executions/engine.js";
import { Directives } from "./directives.js";
import { DEFAULT_POLICY } from "./policy.js";

/** The workflow body, which the durable engine runs; driven here with steps of the test's own. */
type WithWorkflow = { execute(directiveId: string, step: DurableStep): Promise<void> };

const admin: Principal = { keyId: "key_other_admin", name: "other admin", kind: "admin", userId: null, teamId: null, orgId: null };
const issuer: Principal = { keyId: "admin", name: "issuer", kind: "agent", userId: null, teamId: null, orgId: null };

function directivesOn(store: TestStore): Directives {
  const artifacts = { write: () => Promise.reject(new Error("no artifacts in this test")) };
  return new Directives({ db: store.database.db, logger: silentLogger, policy: DEFAULT_POLICY, metrics: new Metrics(), artifacts, maxPendingPerKey: 50 });
}

/** Each `directive.*` row about `id`, oldest first: [action, actor, from, to]. */
async function trail(store: TestStore, id: string): Promise<string[][]> {
  const rows = await new AuditLog(store.database.db).recent(100, { since: new Date(0), action: "directive." });
  return rows
    .filter((r) => r.target === id)
    .reverse()
    .map((r) => {
      const d = r.details as { from?: string; to: string };
      return [r.action, r.actor, d.from ?? "", d.to];
    });
}

/**
 * An approved directive that no worker has started yet may be aborted by an admin, and the abort races
 * the worker's start step: both move the directive from `approved`, and exactly one of them does.
 */
describe.each(STORE_KINDS)("aborting an approved directive on %s", (kind) => {
  const scratch = scratchExecutions(kind);

  it("is an admin's to abort before it starts, audited, and not its issuer's", async () => {
    const { store } = await scratch.open();
    const directives = directivesOn(store);
    await insertApprovedDirective(store, "dir_waiting", "wait for a worker");

    await expect(directives.abort("dir_waiting", issuer)).rejects.toMatchObject({ code: "forbidden" });
    expect(await directives.abort("dir_waiting", admin)).toMatchObject({ status: "aborted", next: [] });
    expect(await trail(store, "dir_waiting")).toEqual([["directive.abort", admin.keyId, "approved", "aborted"]]);
  });

  it("wins over a worker whose start step moves it an instant later: nothing runs, and the worker's step ends quietly", async () => {
    let directives: Directives | undefined;
    const { store, executions } = await scratch.open((opened) => ({
      // The admin's abort lands between the worker's read of the directive (approved) and its move.
      moveDirective: async (id, to) => {
        if (to === "executing") await directives!.abort(id, admin);
        return directives!.advance(id, to, "worker-a");
      },
    }));
    directives = directivesOn(store);
    await insertApprovedDirective(store, "dir_raced", "raced by an abort");

    await (executions as unknown as WithWorkflow).execute("dir_raced", (_name, work) => work());

    expect((await directives.get("dir_raced")).status).toBe("aborted");
    expect(await getRun(store.database.db, "run_raced")).toBeUndefined();
    expect(await trail(store, "dir_raced")).toEqual([["directive.abort", admin.keyId, "approved", "aborted"]]);
  });

  it("is aborted once a worker that moved first has started it, whichever lands first", async () => {
    const { store } = await scratch.open();
    const directives = directivesOn(store);
    await insertApprovedDirective(store, "dir_both", "started and aborted at once");

    const [aborted] = await Promise.all([directives.abort("dir_both", admin), directives.advance("dir_both", "executing", "worker-a").catch((err: Error) => err)]);

    expect(aborted.status).toBe("aborted");
    const moves = await trail(store, "dir_both");
    // The worker's start and the abort from approved: exactly one of them moved the directive from approved.
    expect(moves.filter(([, , from]) => from === "approved")).toHaveLength(1);
    expect(moves.at(-1)).toEqual(["directive.abort", admin.keyId, moves.length === 1 ? "approved" : "executing", "aborted"]);
  });
});
