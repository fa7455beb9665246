import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * Prometheus metrics, one registry per control plane so that several can live in one process (tests,
 * workers). Cost here is a float for dashboards only: the ledger's exact decimal is the money of record.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: "airlock_requests_total",
    help: "Calls handled, by endpoint, operation, model and outcome",
    labelNames: ["endpoint", "operation", "model", "outcome"] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: "airlock_errors_total",
    help: "Calls that ended in an error, by Airlock error code",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: "airlock_request_duration_seconds",
    help: "Time from request to last byte, by endpoint and model",
    labelNames: ["endpoint", "model"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly timeToFirstToken = new Histogram({
    name: "airlock_time_to_first_token_seconds",
    help: "Time from request to the first streamed token, by model",
    labelNames: ["model"] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: "airlock_tokens_total",
    help: "Tokens by model, operation and type (input, output, cached_input, reasoning)",
    labelNames: ["model", "operation", "type"] as const,
    registers: [this.registry],
  });
  readonly cost = new Counter({
    name: "airlock_cost_usd_total",
    help: "Spend in USD by model and operation (approximate; the ledger is exact)",
    labelNames: ["model", "operation"] as const,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
