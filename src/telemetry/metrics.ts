import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { CostUnits } from "../ledger/pricing.js";
import { EVENT_LOOP_METRICS, EventLoopDelay, registerEventLoopDelay } from "./event-loop-delay.js";
import { SeriesHistogram } from "./series-histogram.js";

/** About 24.8 days, the longest interval a Node timer takes: prom-client's own event-loop timer never ticks. */
const UNREACHED_INTERVAL_MS = 2 ** 31 - 1;

export type CallOutcome = "success" | "error" | "refused";

export interface ObservedCall {
  endpoint: string;
  operation: string;
  model: string;
  outcome: CallOutcome;
  latencySeconds: number;
  ttftSeconds?: number;
  errorCode?: string;
  usage?: { inputTokens: number; outputTokens: number; cachedInputTokens: number; reasoningTokens: number };
  /** The call's cost in cost units (10^-12 USD), as its settlement parsed the ledger's amount once. */
  costUnits?: CostUnits;
}

interface Inc {
  inc(value?: number): void;
}
interface Observe {
  observe(value: number): void;
}
interface CallSeries {
  requests: Record<CallOutcome, PendingCount>;
  latency: Observe;
  timeToFirstToken: Observe;
  inputTokens: PendingCount;
  outputTokens: PendingCount;
  cachedInputTokens: PendingCount;
  reasoningTokens: PendingCount;
  cost: ExactSpend;
  /** Where `cost` is read out: prom-client's child of the spend counter for this series' labels. */
  spendCounter: Inc;
}

/**
 * One series' increments, handed to prom-client when the metrics are read. prom-client hashes the
 * label object on every `inc()`, labelled child or not, and six counters a call made that a few
 * percent of the gateway's allocations. A series touched since the last read is handed over even at
 * 0, so it appears exactly when it did before.
 */
class PendingCount implements Inc {
  private pending: number | undefined;

  constructor(private readonly counter: Inc) {}

  inc(value = 1): void {
    // prom-client would throw for these at read time, failing the whole scrape; a metric is not worth that.
    if (!Number.isFinite(value) || value < 0) return;
    this.pending = (this.pending ?? 0) + value;
  }

  flush(): void {
    if (this.pending === undefined) return;
    const value = this.pending;
    this.pending = undefined;
    this.counter.inc(value);
  }
}

const PICO_PER_DOLLAR = 1e12;
const UNITS_PER_DOLLAR = 10n ** 12n;
/** The most units added as one float: the picodollars then stay a safe integer until carried into dollars. */
const SMALL_UNITS = Number.MAX_SAFE_INTEGER - PICO_PER_DOLLAR;

/**
 * One series' spend, summed exactly from the ledger's amounts: whole dollars and picodollars (the
 * ledger's cost units), each a safe integer, made a float only when read. A float sum drifts from the
 * ledger with every call (0.1 + 0.2 reads 0.30000000000000004); this reads as the float nearest the
 * ledger's total.
 */
class ExactSpend {
  private dollars = 0;
  private pico = 0;
  private touched = false;

  add(units: CostUnits): void {
    // Not an amount a call is charged; a metric is not worth failing the call or the scrape.
    if (units < 0n) return;
    this.touched = true;
    const small = Number(units);
    // A call's cost is almost always under $9,000: one exact conversion, and no BigInt arithmetic, which allocates.
    if (small <= SMALL_UNITS) this.pico += small;
    else {
      this.dollars += Number(units / UNITS_PER_DOLLAR);
      this.pico += Number(units % UNITS_PER_DOLLAR);
    }
    if (this.pico >= PICO_PER_DOLLAR) {
      this.dollars += Math.floor(this.pico / PICO_PER_DOLLAR);
      this.pico %= PICO_PER_DOLLAR;
    }
  }

  /** The total, or undefined when no cost was ever added (the series does not appear). */
  get value(): number | undefined {
    return this.touched ? this.dollars + this.pico / PICO_PER_DOLLAR : undefined;
  }
}

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
    collect: () => this.flushCalls(),
  });
  readonly errors = new Counter({
    name: "airlock_errors_total",
    help: "Calls that ended in an error, by Airlock error code",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });
  private readonly latency = new SeriesHistogram(
    "airlock_request_duration_seconds",
    "Time from request to last byte, by endpoint and model",
    ["endpoint", "model"],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    this.registry,
  );
  private readonly timeToFirstToken = new SeriesHistogram(
    "airlock_time_to_first_token_seconds",
    "Time from request to the first streamed token, by model",
    ["model"],
    [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    this.registry,
  );
  readonly tokens = new Counter({
    name: "airlock_tokens_total",
    help: "Tokens by model, operation and type (input, output, cached_input, reasoning)",
    labelNames: ["model", "operation", "type"] as const,
    registers: [this.registry],
    collect: () => this.flushCalls(),
  });
  readonly cost = new Counter({
    name: "airlock_cost_usd_total",
    help: "Spend in USD by model and operation, summed exactly from the ledger's amounts",
    labelNames: ["model", "operation"] as const,
    registers: [this.registry],
    collect: () => this.readSpend(),
  });

  readonly circuitState = new Gauge({
    name: "airlock_circuit_state",
    help: "Circuit breaker state per model: 0 closed, 1 half-open, 2 open",
    labelNames: ["model"] as const,
    registers: [this.registry],
    // Across --workers each process has its own breakers: the worst state is the one to see.
    aggregator: "max",
    // An open breaker whose cooldown has passed is half-open for the next call; brought there before a
    // read, so a scrape does not say open until some call happens to come.
    collect: () => this.circuitRefresh?.(),
  });
  private circuitRefresh: (() => void) | undefined;

  readonly budgetEvents = new Counter({
    name: "airlock_budget_events_total",
    help: "Budget warnings, exhaustions and window openings, by budget",
    labelNames: ["budget", "event"] as const,
    registers: [this.registry],
  });

  readonly directives = new Counter({
    name: "directives_total",
    help: "Directive status changes, by the status reached",
    labelNames: ["status"] as const,
    registers: [this.registry],
  });

  readonly policyEvaluations = new Counter({
    name: "policy_evaluations_total",
    help: "Directive policy evaluations, by verdict",
    labelNames: ["verdict"] as const,
    registers: [this.registry],
  });

  readonly moduleExecutions = new Counter({
    name: "module_executions_total",
    help: "Execution module runs, by module and the status it reported (SUCCESS, FAILURE, ERROR)",
    labelNames: ["module", "status"] as const,
    registers: [this.registry],
  });

  readonly executionDuration = new Histogram({
    name: "execution_duration_seconds",
    help: "Time from a run's start to its end, by module and run status",
    labelNames: ["module", "status"] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
    registers: [this.registry],
  });

  /** Label children per (endpoint, operation, model): prom-client hashes a label object on every call otherwise. */
  private readonly series = new Map<string, CallSeries>();

  /** One finished call's metrics. `operation` and `model` must come from config, never from a client. */
  observeCall(call: ObservedCall): void {
    const key = `${call.endpoint}\u0000${call.operation}\u0000${call.model}`;
    let series = this.series.get(key);
    if (!series) {
      series = this.newSeries(call.endpoint, call.operation, call.model);
      this.series.set(key, series);
    }
    series.requests[call.outcome].inc();
    series.latency.observe(call.latencySeconds);
    if (call.ttftSeconds !== undefined) series.timeToFirstToken.observe(call.ttftSeconds);
    if (call.errorCode) this.errors.inc({ code: call.errorCode });
    if (call.usage) {
      series.inputTokens.inc(call.usage.inputTokens);
      series.outputTokens.inc(call.usage.outputTokens);
      series.cachedInputTokens.inc(call.usage.cachedInputTokens);
      series.reasoningTokens.inc(call.usage.reasoningTokens);
    }
    if (call.costUnits !== undefined) series.cost.add(call.costUnits);
  }

  /** Hands every series' pending counts to prom-client; each counter's `collect` runs it before a read. */
  private flushCalls(): void {
    for (const series of this.series.values()) {
      series.requests.success.flush();
      series.requests.error.flush();
      series.requests.refused.flush();
      series.inputTokens.flush();
      series.outputTokens.flush();
      series.cachedInputTokens.flush();
      series.reasoningTokens.flush();
    }
  }

  /** Sets each series of the spend counter to its exact total: a total read again, never an increment. */
  private readSpend(): void {
    this.cost.reset();
    for (const series of this.series.values()) {
      const total = series.cost.value;
      if (total !== undefined) series.spendCounter.inc(total);
    }
  }

  private newSeries(endpoint: string, operation: string, model: string): CallSeries {
    const tokens = (type: string) => new PendingCount(this.tokens.labels({ model, operation, type }));
    return {
      requests: {
        success: new PendingCount(this.requests.labels({ endpoint, operation, model, outcome: "success" })),
        error: new PendingCount(this.requests.labels({ endpoint, operation, model, outcome: "error" })),
        refused: new PendingCount(this.requests.labels({ endpoint, operation, model, outcome: "refused" })),
      },
      latency: this.latency.seriesOf({ endpoint, model }),
      timeToFirstToken: this.timeToFirstToken.seriesOf({ model }),
      inputTokens: tokens("input"),
      outputTokens: tokens("output"),
      cachedInputTokens: tokens("cached_input"),
      reasoningTokens: tokens("reasoning"),
      cost: new ExactSpend(),
      spendCounter: this.cost.labels({ model, operation }),
    };
  }

  private readonly eventLoopDelay: EventLoopDelay | undefined;

  constructor(options: { processMetrics?: boolean } = {}) {
    if (!options.processMetrics) return;
    // prom-client's event-loop gauges report the time between two ticks of their timer, not how late
    // it ran (see EventLoopDelay), and its timer cannot be left out of its defaults: it is given an
    // interval it never reaches, and its gauges are replaced by Airlock's under the same names.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: UNREACHED_INTERVAL_MS });
    for (const name of EVENT_LOOP_METRICS) this.registry.removeSingleMetric(name);
    this.eventLoopDelay = new EventLoopDelay();
    registerEventLoopDelay(this.registry, this.eventLoopDelay);
    this.eventLoopDelay.start();
  }

  /** Stops sampling the event loop. */
  close(): void {
    this.eventLoopDelay?.stop();
  }

  /** `refresh` is run before each read of the circuit states: it reports the transitions time alone has made. */
  watchCircuits(refresh: () => void): void {
    this.circuitRefresh = refresh;
  }

  /** Called on breaker transitions only, so it costs nothing per call. */
  setCircuitState(model: string, state: "closed" | "half_open" | "open"): void {
    this.circuitState.set({ model }, state === "closed" ? 0 : state === "half_open" ? 1 : 2);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
