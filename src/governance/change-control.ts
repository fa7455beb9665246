import { z } from "zod";
import type { Principal } from "../auth/principal.js";
import { moneyAmount } from "../config/bounds.js";
import { parseRequest } from "../config/load.js";
import { AirlockError } from "../core/errors.js";
import { newId } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import type { Db } from "../store/database.js";
import * as q from "../store/queries/change-requests.js";
import { normalizeDecimal } from "../store/queries/ledger.js";
import type { ChangeImpact, ChangeRequestRow } from "../store/schema/index.js";

export type ChangeKind = q.ChangeKind;
export const CHANGE_KINDS = ["route", "price", "budget", "toggle", "grant"] as const;
export { CHANGE_STATUSES } from "./change-statuses.js";

/** Negative: the change costs more. */
const signedDecimal = moneyAmount({ signed: true, example: "120.50" });

/** What a proposer sends: the change, and the case for it. */
export const proposalSchema = z.strictObject({
  kind: z.enum(CHANGE_KINDS),
  /** The operation (route), model (price), budget or toggle name. */
  target: z.string().min(1).max(200),
  /** The new value, as the admin API takes it for that kind (a route definition, a price, a budget, toggle fields). */
  proposed: z.unknown(),
  estimatedSavingsUsd: signedDecimal.optional(),
  qualityImpact: z.string().max(2_000).optional(),
  confidence: z.number().min(0).max(1).optional(),
  reasoning: z.string().max(10_000).optional(),
  /** How long the request may wait for a decision. */
  expiresInHours: z.number().positive().max(24 * 90).default(24 * 7),
  /** Days of ledger replayed for the impact estimate of a route or price change. */
  impactDays: z.number().int().min(1).max(365).default(30),
});

export type Proposal = z.input<typeof proposalSchema>;

/** A proposed value checked and put in the form the store applies, with what kind of change it is. */
export interface CheckedChange {
  proposed: unknown;
  category: string;
}

export interface ChangeControlOptions {
  db: Db;
  logger: Logger;
  /** Validates a proposed value against the world as it is now; throws the error a direct change would. */
  check(kind: ChangeKind, target: string, proposed: unknown): Promise<CheckedChange>;
  /** Reloads the changed area on this instance and tells the others. */
  applied(kind: ChangeKind): Promise<void>;
  /** Categories a non-admin key's direct change to the admin API is queued as; see `changeControl.marginImpacting`. */
  marginImpacting: readonly string[];
  /** The most requests a key that is not an admin's may have pending at once; see `changeControl.maxPendingPerKey`. */
  maxPendingPerKey: number;
  /** The ledger replayed under the change (route and price changes). */
  estimate(kind: ChangeKind, target: string, proposed: unknown, days: number): Promise<ChangeImpact | null>;
  /** Tells people (webhooks) that a request waits for approval, or was applied. Never waits. */
  notify?(type: "approval.requested" | "change.applied", request: Record<string, unknown>): void;
}

/**
 * Change requests: anyone may propose a configuration change, only a human admin other than the
 * proposer may approve it, and approval applies it and audits it in one statement, provided the
 * target is still as it was when the change was proposed.
 */
export class ChangeControl {
  constructor(private readonly options: ChangeControlOptions) {}

  /** `byGuard`: Airlock files it for a refused call (a grant request, one per key and operation), so the key's limit does not refuse it. */
  async propose(input: unknown, principal: Principal, byGuard = false): Promise<ChangeRequestRow> {
    const proposal = parseRequest(proposalSchema, input, "change request");
    // Admins are trusted.
    const capped = principal.kind !== "admin" && !byGuard;
    const max = this.options.maxPendingPerKey;
    // Refused before the ledger is replayed, so a key at its limit costs the store one count; the insert checks again.
    if (capped && (await q.hasPending(this.options.db, principal.keyId, max))) throw tooManyPending(principal, max);
    const checked = await this.options.check(proposal.kind, proposal.target, proposal.proposed);
    const impact = await this.options.estimate(proposal.kind, proposal.target, checked.proposed, proposal.impactDays);
    const row = await q.insertChangeRequest(
      this.options.db,
      {
        id: newId("chg"),
        kind: proposal.kind,
        target: proposal.target,
        category: checked.category,
        proposed: checked.proposed,
        estimatedSavingsUsd: proposal.estimatedSavingsUsd ?? null,
        qualityImpact: proposal.qualityImpact ?? null,
        confidence: proposal.confidence === undefined ? null : String(proposal.confidence),
        reasoning: proposal.reasoning ?? null,
        impact,
        requestedBy: principal.keyId,
        requestedByKind: principal.kind,
        expiresAt: new Date(Date.now() + proposal.expiresInHours * 3_600_000),
      },
      newId("audit"),
      capped ? max : undefined,
    );
    if (!row) throw tooManyPending(principal, max);
    this.options.logger.info({ changeRequest: row.id, kind: row.kind, target: row.target, by: principal.keyId }, "change request proposed");
    this.options.notify?.("approval.requested", summaryOf(row));
    return row;
  }

  /**
   * A change a key that is not an admin's sent straight to the admin API: queued as a pending request
   * when it is margin-impacting, refused otherwise (only an admin changes configuration directly).
   */
  async proposeDirect(kind: ChangeKind, target: string, proposed: unknown, principal: Principal): Promise<ChangeRequestRow> {
    const { category } = await this.options.check(kind, target, proposed);
    if (!this.options.marginImpacting.includes(category)) {
      throw new AirlockError("forbidden", `this endpoint needs an admin key: a ${category} is not margin-impacting, so it is not queued for approval; propose it with POST /admin/change-requests`, { details: { category } });
    }
    return this.propose({ kind, target, proposed }, principal);
  }

  async list(status: ChangeRequestRow["status"] | undefined, limit: number): Promise<ChangeRequestRow[]> {
    await q.expireChangeRequests(this.options.db);
    return q.listChangeRequests(this.options.db, status, limit);
  }

  async get(id: string): Promise<ChangeRequestRow> {
    await q.expireChangeRequests(this.options.db);
    const row = await q.getChangeRequest(this.options.db, id);
    if (!row) throw new AirlockError("not_found", `no change request "${id}"`);
    return row;
  }

  /** Approves and applies, or refuses with why: not an admin, the requester, already decided, expired, or stale. */
  async approve(id: string, principal: Principal, note?: string): Promise<ChangeRequestRow> {
    const request = await this.get(id);
    if (principal.kind !== "admin") throw new AirlockError("forbidden", "only an admin key can approve a change request", { details: { change_request: id } });
    if (principal.keyId === request.requestedBy) throw new AirlockError("forbidden", "a change request cannot be approved by the key that proposed it", { details: { change_request: id } });
    assertPending(request);
    // The world may have moved since the proposal (a route it depends on removed): check again.
    await this.options.check(request.kind, request.target, request.proposed);
    const done = await q.approveAndApply(this.options.db, request.kind, request.target, decision(id, principal, note));
    if (!done) {
      const now = await this.get(id);
      assertPending(now);
      throw new AirlockError("conflict", `change request "${id}" is stale: its ${request.kind} "${request.target}" changed after it was proposed. Propose it again against the current value.`, {
        details: { change_request: id, stale: true },
      });
    }
    await this.options.applied(request.kind);
    this.options.logger.info({ changeRequest: id, kind: request.kind, target: request.target, by: principal.keyId }, "change request approved and applied");
    const applied = await this.get(id);
    this.options.notify?.("change.applied", summaryOf(applied));
    return applied;
  }

  /** Rejects (an admin), or withdraws (its proposer). */
  async reject(id: string, principal: Principal, note?: string): Promise<ChangeRequestRow> {
    const request = await this.get(id);
    if (principal.kind !== "admin" && principal.keyId !== request.requestedBy) {
      throw new AirlockError("forbidden", "only an admin key, or the key that proposed it, can reject a change request", { details: { change_request: id } });
    }
    assertPending(request);
    if (!(await q.rejectChangeRequest(this.options.db, decision(id, principal, note)))) assertPending(await this.get(id));
    return this.get(id);
  }
}

/**
 * A key's pending requests are capped, so that a low-privilege key cannot fill the store, the approvers'
 * queue and the webhooks. Retrying does not help until one is decided, so it is `forbidden`, not `rate_limited`.
 */
function tooManyPending(principal: Principal, max: number): AirlockError {
  return new AirlockError(
    "forbidden",
    `this key already has ${max} change requests pending, the most a ${principal.kind} key may have (changeControl.maxPendingPerKey): withdraw one (POST /admin/change-requests/:id/reject) or wait until one is decided or expires`,
    { details: { maxPendingPerKey: max } },
  );
}

/** The impact estimate's figures with spend withheld: what a key that may not read spend sees. */
export interface WithheldImpact {
  days: number;
  basis: string;
  calls: null;
  currentCostUsd: null;
  projectedCostUsd: null;
  projectedMonthlyChangeUsd: null;
  withheld: string;
}

export type ChangeRequestView = Omit<ChangeRequestRow, "impact"> & {
  impact: ChangeImpact | WithheldImpact | null;
  /** Why `current` and `proposed` are null: set only for a key that may not read the configuration. */
  withheld?: string;
};

/** Spend is an admin's to read (`GET /admin/spend`); the same keys see an estimate's spend figures. */
export function maySeeSpend(principal: Principal): boolean {
  return principal.kind === "admin";
}

/** Routes, prices and budgets are an admin's to read (`GET /admin/routes`, `/admin/prices`, `/admin/budgets`). */
export function mayReadConfiguration(principal: Principal): boolean {
  return principal.kind === "admin";
}

const VALUES_WITHHELD = "the values in force are shown only to admin keys, which decide the request";

/**
 * A change request as `principal` may see it. The impact estimate replays the company's ledger, so
 * its call count and costs would tell any key what `/admin/spend` refuses it: they are withheld from a
 * key that may not read spend, its own proposal's included. So are `current`, the target's value in
 * force (a route's definition holds its prompt templates; a budget, the team it holds), and `proposed`,
 * which a PATCH makes whole from that value. The proposer knows what it sent. Approvers, who are
 * admins, see everything whole.
 */
export function changeRequestFor(principal: Principal, stored: ChangeRequestRow): ChangeRequestView {
  const row = shownChangeRequest(stored);
  const values = mayReadConfiguration(principal) ? {} : { current: null, proposed: null, withheld: VALUES_WITHHELD };
  if (!row.impact || maySeeSpend(principal)) return { ...row, ...values };
  const { days, basis } = row.impact;
  const withheld = "spend figures are shown only to keys that may read spend (admin keys)";
  return { ...row, ...values, impact: { days, basis, calls: null, currentCostUsd: null, projectedCostUsd: null, projectedMonthlyChangeUsd: null, withheld } };
}

/**
 * A change request as every answer writes money and decimals ("12.5", "0.5"): the numeric columns'
 * places, and a budget's snapshot read from them, are storage. Only what is answered changes: the stored
 * snapshot stays as the approval's stale check reads it. A global budget's snapshot drops the empty
 * target it is stored with, as its proposal and GET /admin/budgets have none.
 */
export function shownChangeRequest(row: ChangeRequestRow): ChangeRequestRow {
  return {
    ...row,
    estimatedSavingsUsd: row.estimatedSavingsUsd === null ? null : normalizeDecimal(row.estimatedSavingsUsd),
    confidence: row.confidence === null ? null : normalizeDecimal(row.confidence),
    current: row.kind === "budget" ? shownBudgetState(row.current) : row.current,
  };
}

function shownBudgetState(state: unknown): unknown {
  if (!state || typeof state !== "object" || Array.isArray(state)) return state;
  const { target, limit, warnAt, ...rest } = state as Record<string, unknown>;
  const decimal = (value: unknown) => (typeof value === "string" ? normalizeDecimal(value) : value);
  const aimed = rest.scope === "global" && (target === "" || target === null) ? {} : { target };
  return { ...rest, ...aimed, limit: decimal(limit), warnAt: decimal(warnAt) };
}

/** What a notification says of a request: who asked for what, and who decided. Not the values themselves. */
function summaryOf(r: ChangeRequestRow): Record<string, unknown> {
  return {
    id: r.id,
    kind: r.kind,
    target: r.target,
    category: r.category,
    status: r.status,
    estimatedSavingsUsd: r.estimatedSavingsUsd === null ? null : normalizeDecimal(r.estimatedSavingsUsd),
    projectedMonthlyChangeUsd: r.impact?.projectedMonthlyChangeUsd ?? null,
    requestedBy: r.requestedBy,
    requestedByKind: r.requestedByKind,
    decidedBy: r.decidedBy,
  };
}

function decision(id: string, principal: Principal, note: string | undefined): q.Decision {
  return { id, decidedBy: principal.keyId, decidedByKind: principal.kind, note: note ?? null, auditId: newId("audit") };
}

function assertPending(request: ChangeRequestRow): void {
  if (request.status === "EXPIRED") throw new AirlockError("conflict", `change request "${request.id}" expired at ${request.expiresAt.toISOString()}`, { details: { change_request: request.id, status: request.status } });
  if (request.status !== "PENDING") throw new AirlockError("conflict", `change request "${request.id}" is already ${request.status}`, { details: { change_request: request.id, status: request.status } });
}
