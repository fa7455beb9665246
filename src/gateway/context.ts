import type { IncomingMessage, ServerResponse } from "node:http";
import type { Principal } from "../auth/principal.js";
import type { Cancellation } from "../core/cancel.js";
import type { Logger } from "../core/logger.js";
import type { ControlPlane } from "../control-plane.js";

/** Per-request facts every handler may need; built once in the server's request listener. */
export interface RequestScope {
  requestId: string;
  startedAt: number;
  /** Aborts when the client goes away before the response is done. */
  cancellation: Cancellation;
  /**
   * Set on a request that changes something through the admin API: counts it against its key once the
   * key is known (server.adminWritesPerMinute), or refuses it.
   */
  admitWrite?: (principal: Principal) => Promise<void>;
  /** Filled in by handlers for the access log line. */
  log: { model?: string; operation?: string; keyId?: string; code?: string };
}

export interface GatewayContext {
  plane: ControlPlane;
  logger: Logger;
  bodyLimitBytes: number;
  audioBodyLimitBytes: number;
  /** How long a request's body may take to arrive whole once a handler asks for it. */
  bodyTimeoutMs: number;
  startedAt: Date;
  /** Where /metrics comes from; in a cluster worker, every worker's metrics summed. */
  metricsText(): Promise<string>;
  /** Requests this process has taken and not yet answered in full, the caller's own included. */
  requestsInFlight(): number;
  /** True once the gateway's graceful close has begun: it finishes what it has and takes nothing new. */
  draining(): boolean;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, scope: RequestScope, params: Record<string, string | undefined>, query: URLSearchParams) => Promise<void>;
