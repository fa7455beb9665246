import type { Context } from "@opentelemetry/api";
import type { AbortSource } from "../core/cancel.js";
import type { Principal } from "../auth/principal.js";
import type { Clock } from "../core/clock.js";
import type { Logger } from "../core/logger.js";
import type { AirlockConfig } from "../config/schema.js";
import type { LedgerWriter } from "../ledger/writer.js";
import type { CircuitBreakers } from "../routing/breaker.js";
import type { Catalog } from "../routing/catalog.js";
import type { SessionPins } from "../routing/sessions.js";
import type { KillSwitch } from "../guards/kill-switch.js";
import type { FeatureToggles } from "../guards/toggles.js";
import type { Budgets } from "../guards/budgets.js";
import type { RateLimits } from "../guards/rate-limits.js";
import type { Grants } from "../guards/grants.js";
import type { Metrics } from "../telemetry/metrics.js";

/** Who and what a call is for, as the gateway or the library learned it. */
export interface CallContext {
  principal: Principal;
  requestId: string;
  /** `x-airlock-operation`, or the library's `operation`. */
  operation?: string;
  /** `x-airlock-user`: the end user the caller acts for. */
  endUser?: string;
  /** `x-airlock-session`. */
  session?: string;
  /** Aborts the call when the client goes away. */
  signal?: AbortSource;
  /** The caller's trace, from its W3C `traceparent`: the call's span is its child. Unset, the active context is the parent. */
  traceContext?: Context;
  /** Where the gateway's access log reads the call's operation: set once the call is planned, as the ledger records it. */
  log?: { operation?: string };
}

/** What every call flow reads, swapped whole on a config change. */
export interface CallDeps {
  readonly catalog: Catalog;
  readonly config: AirlockConfig;
  readonly ledger: LedgerWriter;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Survive config and route changes: they describe targets, not configuration. */
  readonly breakers: CircuitBreakers;
  readonly sessions: SessionPins;
  /** Guard state, held in memory and kept current by the store's notices. */
  readonly killSwitch: Pick<KillSwitch, "check" | "checkOperation" | "checkSettled" | "settling">;
  readonly toggles: Pick<FeatureToggles, "enforce">;
  readonly budgets: Pick<Budgets, "applying" | "reserve" | "settle" | "defaultMaxTokens" | "warned">;
  readonly grants: Pick<Grants, "use" | "settle">;
  readonly rateLimits: Pick<RateLimits, "any" | "hold" | "settle" | "release" | "start" | "close">;
}
