import type { Principal } from "../auth/principal.js";
import { AirlockError } from "../core/errors.js";
import { newId } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import { Reloader } from "../core/reloader.js";
import { costUnits, costUnitsText } from "../ledger/pricing.js";
import { assertKeyActive, checkGrant } from "../governance/change-checks.js";
import type { Catalog } from "../routing/catalog.js";
import type { ChangeRequestRow } from "../store/schema/index.js";
import type { Db } from "../store/database.js";
import { grantById, insertGrant, liveGrants, pendingGrantRequest, recentGrants, revokeGrant, settleGrantCall, useGrant } from "../store/queries/grants.js";
import type { ApprovalGrantRow } from "../store/schema/index.js";

/** The grant a call runs under, and the USD it holds of the grant's spend limit until it settles. */
export interface GrantUse {
  id: string;
  held: string;
  /** Set as the call settles: the store statement that settles it on the grant (never rejects). */
  settled?: Promise<void>;
}

/** What an automatic request for a grant asks for: a day, a hundred calls. An admin may grant other terms directly. */
const REQUESTED_TERMS = { expiresInHours: 24, maxCalls: 100 };
const REQUEST_CACHE_MS = 10_000;

export interface GrantsOptions {
  db: Db;
  logger: Logger;
  /** Proposes a change request (kind `grant`) as the caller that was refused. */
  propose(input: unknown, principal: Principal): Promise<ChangeRequestRow>;
  /** Tells other instances that grants changed; never throws. */
  announce(): Promise<void>;
  /** The catalog in force: a grant is for one of its operations. */
  catalog(): Catalog;
  /** Whether a key exists and is not revoked: a grant is for one that can use it. */
  isKeyActive(id: string): Promise<boolean>;
}

/**
 * Approval grants for HIGH-criticality operations. A call without a live grant is refused with
 * `approval_required`, carrying the id of a change request that asks for one (made once per key and
 * operation). A call with one counts itself against it in one store statement, so `maxCalls` holds
 * across instances; HIGH calls pay that one round trip, the price of an exact count. A call refused
 * after that, before any provider was asked, gives its count back (see settle).
 */
export class Grants {
  private byKeyAndOperation = new Map<string, ApprovalGrantRow[]>();
  /**
   * Requests made, or being made, for refused key/operation pairs: refusals in a burst share one lookup
   * and one proposal, instead of each finding none pending and proposing its own.
   */
  private requested = new Map<string, { id: Promise<string>; at: number }>();
  private readonly reloader = new Reloader(async () => {
    const next = new Map<string, ApprovalGrantRow[]>();
    for (const grant of await liveGrants(this.options.db)) {
      const key = pairOf(grant.keyId, grant.operation);
      next.set(key, [...(next.get(key) ?? []), grant]);
    }
    this.byKeyAndOperation = next;
    this.requested.clear();
  });

  constructor(private readonly options: GrantsOptions) {}

  reload(): Promise<void> {
    return this.reloader.reload();
  }

  /**
   * Takes one call from a live grant for this key and operation, or refuses with `approval_required`.
   * A grant with a spend limit holds the call's worst case (`spendBound`, USD) until the call settles.
   * Answers the grant used and what it holds.
   */
  async use(principal: Principal, operation: string, spendBound: () => string): Promise<GrantUse> {
    const pair = pairOf(principal.keyId, operation);
    for (const grant of this.byKeyAndOperation.get(pair) ?? []) {
      if (grant.expiresAt.getTime() <= Date.now()) continue;
      const held = grant.maxSpendUsd === null ? "0" : spendBound();
      if (await useGrant(this.options.db, grant.id, held)) return { id: grant.id, held };
    }
    const requestId = await this.requestFor(principal, operation, pair);
    throw new AirlockError("approval_required", `operation "${operation}" is HIGH criticality: this key needs an admin's approval grant to call it`, {
      details: { approval_request: requestId, operation },
    });
  }

  /**
   * Settles a finished call on its grant, once: its cost replaces the worst case it held, and a call
   * that never reached a provider (`attempted` false: a later guard refused it, or every target's
   * breaker was open) gives back the call it counted, so refusals cannot use up the approved calls. A
   * call that reached a provider counts, whether it succeeded or not: the approved action was tried.
   * Never throws: a failure is logged, and only loosens (or, for a hold or call never given back,
   * tightens) a limit.
   */
  settle(use: GrantUse, cost: string, attempted: boolean): void {
    if (use.settled) return;
    const amount = costUnits(cost) - costUnits(use.held);
    if (amount === 0n && attempted) {
      use.settled = Promise.resolve();
      return;
    }
    use.settled = settleGrantCall(this.options.db, use.id, costUnitsText(amount), attempted ? 0 : 1).catch((err: unknown) =>
      this.options.logger.error({ err: err instanceof Error ? err.message : String(err), grant: use.id }, "could not settle a call on its approval grant"),
    );
  }

  private requestFor(principal: Principal, operation: string, pair: string): Promise<string> {
    const known = this.requested.get(pair);
    // Briefly: the request may be rejected or expire, and the next refusal must then ask afresh.
    if (known && Date.now() - known.at < REQUEST_CACHE_MS) return known.id;
    const target = `${principal.keyId}/${operation}`;
    const asked = { id: this.pendingOrProposed(principal, operation, target), at: Date.now() };
    this.requested.set(pair, asked);
    // A failed lookup or proposal is not remembered: the next refusal asks again.
    asked.id.catch(() => {
      if (this.requested.get(pair) === asked) this.requested.delete(pair);
    });
    return asked.id;
  }

  private async pendingOrProposed(principal: Principal, operation: string, target: string): Promise<string> {
    const pending = await pendingGrantRequest(this.options.db, target);
    if (pending) return pending;
    const proposal = { kind: "grant", target, proposed: { keyId: principal.keyId, operation, ...REQUESTED_TERMS }, reasoning: "refused without an approval grant" };
    return (await this.options.propose(proposal, principal)).id;
  }

  list(limit: number): Promise<ApprovalGrantRow[]> {
    return recentGrants(this.options.db, limit);
  }

  /** Grants a key an operation directly (admin keys); audited. */
  async grant(input: unknown, by: Principal): Promise<ApprovalGrantRow> {
    if (by.kind !== "admin") throw new AirlockError("forbidden", "only an admin key can grant approval");
    const grant = checkGrant(this.options.catalog(), input);
    await assertKeyActive(this.options, grant.keyId, "keyId");
    const id = newId("grant");
    await insertGrant(this.options.db, {
      id,
      keyId: grant.keyId,
      operation: grant.operation,
      expiresAt: new Date(Date.now() + grant.expiresInHours * 3_600_000),
      maxCalls: grant.maxCalls ?? null,
      maxSpendUsd: grant.maxSpendUsd ?? null,
      grantedBy: by.keyId,
      grantedByKind: by.kind,
      auditId: newId("audit"),
    });
    await this.changed();
    return (await grantById(this.options.db, id))!;
  }

  async revoke(id: string, by: Principal): Promise<boolean> {
    if (by.kind !== "admin") throw new AirlockError("forbidden", "only an admin key can revoke a grant");
    const revoked = await revokeGrant(this.options.db, id, { keyId: by.keyId, kind: by.kind, auditId: newId("audit") });
    if (revoked) await this.changed();
    return revoked;
  }

  private async changed(): Promise<void> {
    await this.reload();
    await this.options.announce();
  }
}

function pairOf(keyId: string, operation: string): string {
  return `${keyId}\u0000${operation}`;
}
