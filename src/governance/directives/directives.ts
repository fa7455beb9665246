import { z } from "zod";
import type { Principal } from "../../auth/principal.js";
import { positiveInt4 } from "../../config/bounds.js";
import { parseRequest } from "../../config/load.js";
import { AirlockError } from "../../core/errors.js";
import { newId } from "../../core/ids.js";
import type { Page } from "../../core/page-cursor.js";
import type { Logger } from "../../core/logger.js";
import type { Db } from "../../store/database.js";
import * as q from "../../store/queries/directives.js";
import type { ArtifactRow, DirectiveRow } from "../../store/schema/index.js";
import { nextStatuses, transitionError, type DirectiveStatus } from "./lifecycle.js";
import type { Metrics } from "../../telemetry/metrics.js";
import { inSpan } from "../../telemetry/tracing.js";
import { evaluatePolicy, policyHash, type DirectivePolicy } from "./policy.js";
import type { ArtifactWriter } from "../executions/artifact-store.js";
import { directivePage, type DirectiveQuery } from "../pages.js";

/** A directive as an issuer writes it. */
export const directiveInput = z.strictObject({
  role: z.string().min(1).max(200),
  type: z.string().min(1).max(100),
  payload: z.unknown().default({}),
  objective: z.string().min(1).max(10_000),
  scope: z.string().min(1).max(100),
  constraints: z.record(z.string(), z.unknown()).default({}),
  successMetrics: z.record(z.string(), z.unknown()).default({}),
  /** "$50", "50.00" or "100 USD". */
  budget: z.string().min(1).max(50).optional(),
  /** Seconds the work may take. */
  timeboxSeconds: positiveInt4().optional(),
});

/** The directive's JSON Schema, for agents that write directives. */
export function directiveJsonSchema(): unknown {
  return z.toJSONSchema(directiveInput, { io: "input" });
}

export interface DirectiveView extends DirectiveRow {
  next: readonly DirectiveStatus[];
  artifacts?: ArtifactRow[];
}

export interface DirectivesOptions {
  db: Db;
  logger: Logger;
  policy: DirectivePolicy;
  /** Counts each status a directive reaches, and each policy verdict. */
  metrics: Pick<Metrics, "directives" | "policyEvaluations">;
  /** Where policy evaluations are kept. */
  artifacts: Pick<ArtifactWriter, "write">;
  /** The most undecided directives (draft, proposed, blocked) a key that is not an admin's may have; see `governance.maxPendingPerKey`. */
  maxPendingPerKey: number;
  /** Hears each approval, so that a worker can pick the directive up at once. */
  onApproved?: (id: string) => void;
}

/**
 * Directives: agent intent, judged by a deterministic, versioned policy, then approved by a human
 * admin who did not issue it (or by the policy itself, when it says so). Every status change goes
 * through one mutator that moves a directive only from the status it is known to be in.
 */
export class Directives {
  constructor(private readonly options: DirectivesOptions) {}

  async create(input: unknown, principal: Principal): Promise<DirectiveView> {
    return (await this.issue(input, principal)).directive;
  }

  /**
   * A new draft; with an idempotency key its issuer used before, the directive made then (`replayed`),
   * as it is now, so that an issuer that lost the answer can send the same request again without
   * issuing the same intent twice. The key is refused for a directive with other fields.
   */
  async issue(input: unknown, principal: Principal, idempotencyKey?: string): Promise<{ directive: DirectiveView; replayed: boolean }> {
    const fields = parseRequest(directiveInput, input, "directive");
    if (idempotencyKey !== undefined) checkIdempotencyKey(idempotencyKey);
    const max = this.options.maxPendingPerKey;
    const inserted = await q.insertDirective(
      this.options.db,
      {
        id: newId("dir"),
        ...fields,
        budget: fields.budget ?? null,
        timeboxSeconds: fields.timeboxSeconds ?? null,
        issuedBy: principal.keyId,
        issuedByKind: principal.kind,
        idempotencyKey: idempotencyKey ?? null,
      },
      // Admins are trusted; any other key could otherwise fill the store with megabyte payloads nobody decides.
      principal.kind === "admin" ? undefined : max,
    );
    if ("existing" in inserted) {
      if (!inserted.same) {
        throw new AirlockError("idempotency_key_reused", `this Idempotency-Key was used for another directive ("${inserted.existing.id}"), with other fields: send a new key for a new directive`, {
          param: "Idempotency-Key",
          details: { directive: inserted.existing.id },
        });
      }
      return { directive: view(inserted.existing), replayed: true };
    }
    if ("full" in inserted) {
      // Retrying does not help until one of them moves on, so this is forbidden, not rate_limited.
      throw new AirlockError(
        "forbidden",
        `this key already has ${max} directives not yet approved (draft, proposed or blocked), the most a ${principal.kind} key may have (governance.maxPendingPerKey): abort one it no longer needs (POST /admin/directives/:id/abort), or wait until an admin approves one`,
        { details: { maxPendingPerKey: max } },
      );
    }
    this.options.metrics.directives.inc({ status: "draft" });
    return { directive: view(inserted.created), replayed: false };
  }

  async get(id: string): Promise<DirectiveView> {
    const row = await q.getDirective(this.options.db, id);
    if (!row) throw new AirlockError("not_found", `no directive "${id}"`);
    return { ...view(row), artifacts: await q.artifactsOf(this.options.db, id) };
  }

  /** A page of directives, newest first by when each was made. */
  async list(query: DirectiveQuery): Promise<Page<DirectiveView>> {
    const page = await directivePage(this.options.db, query);
    return { ...page, data: page.data.map(view) };
  }

  /**
   * Proposes a draft (or a blocked directive again) and judges it: BLOCK leaves it blocked with the
   * reasons; ALLOW leaves it proposed, waiting for a human, or approves it when the policy auto-approves.
   * The evaluation is stored as a `policy_evaluation` artifact either way.
   */
  propose(id: string, principal: Principal): Promise<DirectiveView> {
    return inSpan("airlock.directive.propose", { "airlock.directive": id }, () => this.proposeAndJudge(id, principal));
  }

  private async proposeAndJudge(id: string, principal: Principal): Promise<DirectiveView> {
    const current = await this.get(id);
    if (principal.kind !== "admin" && principal.keyId !== current.issuedBy) throw new AirlockError("forbidden", "only its issuer or an admin key can propose a directive");
    const proposed = await this.move(current, "proposed", {}, decision("directive.propose", principal));
    const { policy } = this.options;
    const reasons = await this.judge(proposed);
    if (reasons.length > 0) return this.get((await this.move(proposed, "blocked", { blockedReasons: reasons }, decision("directive.block", policyActor(policy)))).id);
    if (policy.autoApprove) {
      const by = policyActor(policy);
      return this.approved(await this.move(proposed, "approved", { approvedBy: by.keyId, humanOverride: false }, decision("directive.approve", by)));
    }
    return this.get(id);
  }

  /** A human admin's approval of a proposed directive; never its issuer's. */
  approve(id: string, principal: Principal): Promise<DirectiveView> {
    return inSpan("airlock.directive.approve", { "airlock.directive": id }, () => this.approveAsHuman(id, principal));
  }

  private async approveAsHuman(id: string, principal: Principal): Promise<DirectiveView> {
    const current = await this.get(id);
    if (principal.kind !== "admin") throw new AirlockError("forbidden", "only an admin key can approve a directive", { details: { directive: id } });
    if (principal.keyId === current.issuedBy) throw new AirlockError("forbidden", "a directive cannot be approved by the key that issued it", { details: { directive: id } });
    if (current.status === "proposed") await this.judgeAgain(current);
    return this.approved(await this.move(current, "approved", { approvedBy: principal.keyId, humanOverride: true }, decision("directive.approve", principal)));
  }

  /**
   * The policy may have changed since the directive was proposed (a restart with a tighter one): what
   * the policy in force blocks is never approved. It is judged again, and blocked with the reasons, as
   * a proposal would be. The evaluation is kept unless the newest one already says ALLOW under this
   * policy. The newest kept is not trusted to be a pass: an approval landing while a proposal is being
   * judged finds the directive proposed and the evaluation that blocked it before, under the same policy.
   */
  private async judgeAgain(current: DirectiveView): Promise<void> {
    const { policy } = this.options;
    const last = current.artifacts?.filter((a) => a.type === "policy_evaluation").at(-1)?.body as { policyHash?: string; verdict?: string } | null | undefined;
    const input = { type: current.type, scope: current.scope, budget: current.budget };
    if (last?.policyHash === policyHash(policy) && last.verdict === "ALLOW" && evaluatePolicy(input, policy).verdict === "ALLOW") return;
    const reasons = await this.judge(current);
    if (reasons.length === 0) return;
    await this.move(current, "blocked", { blockedReasons: reasons }, decision("directive.block", policyActor(policy)));
    throw new AirlockError("conflict", `directive "${current.id}" is blocked by the policy in force (${policy.version}): ${reasons.join("; ")}`, {
      details: { directive: current.id, status: "blocked", policyVersion: policy.version, blockedReasons: reasons },
    });
  }

  /** Judges a directive by the policy in force and keeps the evaluation as an artifact; answers the reasons it is blocked, none when allowed. */
  private async judge(row: DirectiveRow): Promise<string[]> {
    const { policy } = this.options;
    const input = { type: row.type, scope: row.scope, budget: row.budget };
    const evaluation = evaluatePolicy(input, policy);
    this.options.metrics.policyEvaluations.inc({ verdict: evaluation.verdict });
    await this.options.artifacts.write({ id: newId("art"), directiveId: row.id, runId: null, type: "policy_evaluation", body: { ...evaluation, policy, input } });
    return evaluation.checks.filter((c) => !c.passed).map((c) => c.reason);
  }

  /** The execution orchestrator's moves: picked up, and ended (aborted when the run failed), by the worker `executor`. */
  async advance(id: string, to: "executing" | "complete" | "aborted", executor: string): Promise<DirectiveRow> {
    const current = await q.getDirective(this.options.db, id);
    if (!current) throw new AirlockError("not_found", `no directive "${id}"`);
    const action = { executing: "directive.execute", complete: "directive.complete", aborted: "directive.fail" }[to];
    return this.move(current, to, {}, decision(action, { keyId: executor, kind: "executor" }));
  }

  private approved(row: DirectiveRow): Promise<DirectiveView> {
    this.options.onApproved?.(row.id);
    return this.get(row.id);
  }

  /**
   * Stops a directive before it ends (admin keys): one not yet approved (declined), an approved one no
   * worker has started yet, or a running one. Its issuer may withdraw one not yet approved.
   */
  async abort(id: string, principal: Principal): Promise<DirectiveView> {
    let current: DirectiveRow = await this.get(id);
    // A worker's start (approved → executing), a proposal's verdict or an approval may move the directive
    // between the read and the abort's write: the abort then stops it as it is now, while it still may.
    for (let tries = 1; ; tries++) {
      const undecided = (q.UNDECIDED_STATUSES as readonly string[]).includes(current.status);
      if (principal.kind !== "admin" && !(undecided && principal.keyId === current.issuedBy)) {
        throw new AirlockError("forbidden", "only an admin key can abort a directive; its issuer may abort one not yet approved (draft, proposed or blocked)");
      }
      const moved = await this.tryMove(current, "aborted", {}, decision("directive.abort", principal));
      if (moved) return this.get(moved.id);
      const now = await q.getDirective(this.options.db, id);
      if (!now || tries === ABORT_TRIES || !nextStatuses(now.status).includes("aborted")) throw transitionError(id, now?.status ?? current.status, "aborted");
      current = now;
    }
  }

  /** The one way a status changes: allowed by the lifecycle, and only from the status last read. */
  private async move(current: DirectiveRow, to: DirectiveStatus, fields: q.TransitionFields, audit: q.DirectiveAudit): Promise<DirectiveRow> {
    const moved = await this.tryMove(current, to, fields, audit);
    if (!moved) {
      const now = await q.getDirective(this.options.db, current.id);
      throw transitionError(current.id, now?.status ?? current.status, to);
    }
    return moved;
  }

  /** A move, or undefined when another writer moved the directive since `current` was read. */
  private async tryMove(current: DirectiveRow, to: DirectiveStatus, fields: q.TransitionFields, audit: q.DirectiveAudit): Promise<DirectiveRow | undefined> {
    if (!nextStatuses(current.status).includes(to)) throw transitionError(current.id, current.status, to);
    const moved = await q.moveDirective(this.options.db, current.id, current.status, to, fields, audit);
    if (!moved) return undefined;
    this.options.metrics.directives.inc({ status: to });
    this.options.logger.info({ directive: current.id, from: current.status, to }, "directive status changed");
    return moved;
  }
}

/**
 * How many times an abort reads the directive again after another writer moved it first. Each lost try
 * means a move along the lifecycle, which ends within a few (draft → proposed → approved → executing).
 */
const ABORT_TRIES = 4;

/** As the IETF's Idempotency-Key draft and Stripe take it: 1 to 255 printable ASCII characters. */
function checkIdempotencyKey(key: string): void {
  if (!/^[\x20-\x7e]{1,255}$/.test(key)) {
    throw new AirlockError("invalid_request", "Idempotency-Key must be 1 to 255 printable ASCII characters", { param: "Idempotency-Key" });
  }
}

/** Who decides as the policy: its version. */
function policyActor(policy: DirectivePolicy): { keyId: string; kind: string } {
  return { keyId: `policy:${policy.version}`, kind: "policy" };
}

/** The audit row of a status change: a person's, the policy's or a worker's. */
function decision(action: string, by: { keyId: string; kind: string }): q.DirectiveAudit {
  return { id: newId("audit"), action, actor: by.keyId, actorKind: by.kind };
}

function view(row: DirectiveRow): DirectiveView {
  return { ...row, next: nextStatuses(row.status) };
}
