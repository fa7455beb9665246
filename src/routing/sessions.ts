import type { CatalogModel } from "./catalog.js";
import type { Plan } from "./plan.js";

/**
 * Which model answered each session first, so that a conversation stays on one model. Bounded: the
 * least recently used pin goes first, and a pin unused for `ttlMs` is forgotten. A Map keeps insertion
 * order, so re-inserting on use makes its first key the least recently used.
 */
export class SessionPins {
  private readonly pins = new Map<string, { modelId: string; lastUsed: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxSessions: number,
    private readonly now: () => number,
  ) {}

  /** The session's pinned model moved to the front of the plan, if it is still a candidate. */
  apply(key: string, plan: Plan): Plan {
    const pin = this.pins.get(key);
    if (!pin) return plan;
    if (this.now() - pin.lastUsed > this.ttlMs) {
      this.pins.delete(key);
      return plan;
    }
    // A candidate is enabled and allowed by construction: a pin to anything else is stale.
    const pinned = plan.candidates.find((m) => m.id === pin.modelId);
    if (!pinned) {
      this.pins.delete(key);
      return plan;
    }
    this.touch(key, pin.modelId);
    const candidates = plan.candidates[0] === pinned ? plan.candidates : [pinned, ...plan.candidates.filter((m) => m !== pinned)];
    return { ...plan, candidates, routeReason: plan.routeReason ?? "session_pinned" };
  }

  /** Pins the model that answered, if the session has no pin yet. */
  remember(key: string, model: CatalogModel): void {
    if (this.pins.has(key)) return;
    this.touch(key, model.id);
  }

  get size(): number {
    return this.pins.size;
  }

  private touch(key: string, modelId: string): void {
    this.pins.delete(key);
    this.pins.set(key, { modelId, lastUsed: this.now() });
    if (this.pins.size > this.maxSessions) {
      const oldest = this.pins.keys().next().value;
      if (oldest !== undefined) this.pins.delete(oldest);
    }
  }
}

/** Sessions are per key and per route: the same session id from two keys, or for two operations, are different pins. */
export function pinKey(keyId: string, session: string, plan: Plan, requestedModel: string | undefined): string {
  return `${keyId}\u0000${session}\u0000${plan.operation?.name ?? requestedModel ?? ""}`;
}
