import { nulPath } from "../../config/bounds.js";
import { AirlockError } from "../../core/errors.js";
import type { Page } from "../../core/page-cursor.js";
import type { Logger } from "../../core/logger.js";
import type { Db } from "../../store/database.js";
import * as q from "../../store/queries/executions.js";
import { getDirective } from "../../store/queries/directives.js";
import type { ArtifactRow, DirectiveRow, ExecutionRunRow } from "../../store/schema/index.js";
import type { Metrics } from "../../telemetry/metrics.js";
import { inSpan } from "../../telemetry/tracing.js";
import { runPage, type RunQuery } from "../pages.js";
import type { ArtifactWriter } from "./artifact-store.js";
import type { DurableStep, WorkflowEngine } from "./engine.js";
import type { DirectiveBrief, ModuleRegistry, ModuleResult } from "./modules.js";
import { runStatusOf, workflowIdOf } from "./run-lifecycle.js";
import { runSignal } from "./run-signal.js";

export interface ExecutionSettings {
  enabled: boolean;
  concurrency: number;
  pollIntervalMs: number;
  executorId: string;
}

/** Moves a directive through its one mutator (Directives). */
export type DirectiveMover = (id: string, to: "executing" | "complete" | "aborted") => Promise<DirectiveRow>;

export interface ExecutionsOptions {
  db: Db;
  logger: Logger;
  metrics: Pick<Metrics, "moduleExecutions" | "executionDuration">;
  settings: ExecutionSettings;
  modules: ModuleRegistry;
  artifacts: ArtifactWriter;
  moveDirective: DirectiveMover;
  /**
   * False while this instance has the embedded store to itself (see joinStore): every approval then
   * happens here and kicks a dispatch, so the store is not polled. A dispatch that failed, or that
   * left approved directives behind, is tried again on its own.
   */
  sharedStore(): boolean;
  /** The engine's Postgres URL, and whether it is PGlite's one-connection socket. */
  engineStore: () => Promise<{ url: string; embedded: boolean }>;
}

export interface RunView extends ExecutionRunRow {
  artifacts?: ArtifactRow[];
}

/** The least a failed dispatch waits before it is tried again. */
const DISPATCH_RETRY_MS = 1_000;
/**
 * On a shared store, approvals are announced to every instance (see `kick`'s callers), so the look for
 * approved directives is only a safety net, for an announcement that never came: an approving instance
 * that died between its commit and its notice. Looking every second cost every instance a query and a
 * wake-up per second (about 1 ms of CPU a second, measured idle on PostgreSQL).
 */
const SAFETY_POLL_MS = 30_000;
/** How often a running module's directive is looked at for an admin's abort, which fires the module's signal. */
const ABORT_CHECK_MS = 1_000;
/** Approved directives offered to the engine per dispatch, oldest first. */
const DISPATCH_PAGE = 100;

type StepOutcome = ModuleResult | { status: "CANCELED" };

/**
 * The execution orchestrator. A dispatcher offers approved directives to the durable engine's queue;
 * a worker runs each as three checkpointed steps: start (the run, the directive executing), module
 * (the work, under an idempotency key), end (the run's status and the directive's). It never decides
 * whether work may happen: policy and approval did that before a directive became approved.
 */
export class Executions {
  private engine: WorkflowEngine | undefined;
  private launching: Promise<WorkflowEngine | undefined> | undefined;
  private started = false;
  private poll: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private dispatching: Promise<void> | undefined;
  private closed = false;
  private again = false;
  private unavailableSaid = false;

  constructor(private readonly options: ExecutionsOptions) {}

  /** Dispatches what is approved (and, at start, runs a crash left behind), then polls for more on a shared store. */
  start(): void {
    if (!this.options.settings.enabled) return;
    this.started = true;
    if (this.options.sharedStore()) this.startPolling();
    this.kick();
  }

  /** Another control plane now uses the store: directives may be approved there, so poll for them. */
  storeShared(): void {
    if (this.started && !this.closed) this.startPolling();
  }

  private startPolling(): void {
    this.poll ??= setInterval(() => this.kick(), SAFETY_POLL_MS);
    this.poll.unref();
  }

  /** Dispatches now: a directive was just approved, here or (announced) on another instance. */
  kick(): void {
    if (!this.options.settings.enabled || this.closed) return;
    if (this.dispatching) {
      // An approval landing during a dispatch may have missed its read: one more round follows it.
      this.again = true;
      return;
    }
    this.dispatching = this.dispatch()
      .catch((err: unknown) => {
        this.options.logger.warn({ err }, "dispatching approved directives failed; retried shortly");
        this.retrySoon();
      })
      .finally(() => {
        this.dispatching = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Dispatches again shortly: the safety poll is far too slow for a dispatch that failed. */
  private retrySoon(): void {
    if (this.retry !== undefined || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.kick();
    }, this.retryMs());
    this.retry.unref();
  }

  private retryMs(): number {
    return Math.max(DISPATCH_RETRY_MS, this.options.settings.pollIntervalMs);
  }

  async getRun(id: string): Promise<RunView> {
    const run = await q.getRun(this.options.db, id);
    if (!run) throw new AirlockError("not_found", `no run "${id}"`);
    return { ...run, artifacts: await q.artifactsOfRun(this.options.db, id) };
  }

  listRuns(query: RunQuery): Promise<Page<ExecutionRunRow>> {
    return runPage(this.options.db, query);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.poll);
    clearTimeout(this.retry);
    // A dispatch in flight may be launching the engine: it finishes first, and the engine is then shut down.
    while (this.dispatching) await this.dispatching;
    const engine = this.engine;
    this.engine = undefined;
    await engine?.shutdown();
  }

  private async dispatch(): Promise<void> {
    const { db } = this.options;
    // The engine starts only once there is work: instances that never run a directive never pay for it.
    if (!this.engine && !(await q.hasOpenWork(db))) return;
    const engine = await this.ensureEngine();
    if (!engine) return;
    const approved = await q.approvedDirectiveIds(db, DISPATCH_PAGE);
    for (const id of approved) await engine.enqueue(id);
    // The rest stay approved until earlier ones start: look again shortly, as a poll would.
    if (approved.length === DISPATCH_PAGE) this.retrySoon();
  }

  private async ensureEngine(): Promise<WorkflowEngine | undefined> {
    if (this.engine) return this.engine;
    this.launching ??= (async () => {
      const { settings, logger } = this.options;
      const store = await this.options.engineStore();
      const { WorkflowEngine } = await import("./engine.js");
      const engine = await WorkflowEngine.launch({ ...store, executorId: settings.executorId, concurrency: settings.concurrency, pollIntervalMs: settings.pollIntervalMs, logger }, (id, step) => this.execute(id, step));
      if (!engine && !this.unavailableSaid) {
        this.unavailableSaid = true;
        logger.warn("another control plane in this process runs the execution engine; this one leaves approved directives to it");
      }
      return engine;
    })().finally(() => {
      this.launching = undefined;
    });
    this.engine = await this.launching;
    return this.engine;
  }

  /** The workflow: three checkpointed steps. Run by the engine, on whichever worker dequeued it. */
  private async execute(directiveId: string, durableStep: DurableStep): Promise<void> {
    // Runs during the engine's launch too, when it recovers the runs a crash left behind.
    const started = await durableStep("start", () => this.startRun(directiveId, this.options.settings.executorId));
    if (!started) return;
    // A module step that throws (the store refused a write, say) ends the run failed rather than leaving it running.
    const outcome = await durableStep("module", () => this.runModule(started).catch((err: unknown) => this.stepFailed(started, err)));
    await durableStep("end", () => this.endRun(started, outcome));
  }

  private startRun(directiveId: string, executorId: string): Promise<{ runId: string; module: string } | undefined> {
    return inSpan("airlock.execution.start", { "airlock.directive": directiveId }, async () => {
      const { db, logger } = this.options;
      logger.info({ directive: directiveId, step: "start" }, "execution step ran");
      const directive = await getDirective(db, directiveId);
      if (!directive || (directive.status !== "approved" && directive.status !== "executing")) {
        logger.warn({ directive: directiveId, status: directive?.status }, "a queued directive is no longer approved; nothing runs");
        return undefined;
      }
      // The directive moves before its run is made: an admin's abort landing first (approved → aborted)
      // leaves no run behind, and one landing after finds it executing and cancels the run.
      if (directive.status === "approved" && !(await this.startDirective(directiveId))) return undefined;
      // Derived from the directive, so a replayed step finds the run it made, not a second one.
      const runId = `run_${directive.id.replace(/^dir_/, "")}`;
      let run = await q.ensureRun(db, { id: runId, directiveId, module: directive.type, idempotencyKey: runId, workflowId: workflowIdOf(directiveId), executorId });
      if (run.status === "pending") run = (await q.moveRun(db, runId, "pending", "running")) ?? run;
      await this.record(directive.id, runId, "execution_start", { module: directive.type, executor: executorId, workflow: run.workflowId, scope: directive.scope, timeboxSeconds: directive.timeboxSeconds });
      return { runId, module: directive.type };
    });
  }

  /** Moves the directive approved → executing; false when another writer (an admin's abort) moved it first. */
  private async startDirective(directiveId: string): Promise<boolean> {
    const moved = await this.options.moveDirective(directiveId, "executing").then(
      () => true,
      (err: unknown) => {
        if (err instanceof AirlockError) return false;
        throw err;
      },
    );
    if (moved) return true;
    const now = await getDirective(this.options.db, directiveId);
    if (now?.status === "executing") return true;
    this.options.logger.info({ directive: directiveId, status: now?.status }, "the directive moved before its run started; nothing runs");
    return false;
  }

  private runModule(started: { runId: string; module: string }): Promise<StepOutcome> {
    const { runId, module: name } = started;
    return inSpan("airlock.execution.module", { "airlock.run": runId, "airlock.module": name }, async () => {
      const { db, logger, modules, metrics } = this.options;
      logger.info({ run: runId, module: name, step: "module" }, "execution step ran");
      const run = await q.getRun(db, runId);
      const directive = run && (await getDirective(db, run.directiveId));
      if (!run || !directive || directive.status === "aborted") return { status: "CANCELED" as const };
      const module = modules.get(name);
      let result: ModuleResult;
      // Numbered in the order the module records them, so a replayed step writes the same ids again (and nothing twice).
      let recorded = 0;
      let effects = 0;
      // Fires when the timebox runs out, or when an admin aborts the directive (on any instance).
      const stop = runSignal(directive.timeboxSeconds, async () => (await getDirective(db, directive.id))?.status === "aborted", ABORT_CHECK_MS);
      try {
        if (!module) throw new AirlockError("invalid_request", `no execution module "${name}" (this worker has ${modules.names().join(", ")})`);
        result = await module.execute({
          idempotencyKey: run.idempotencyKey,
          runId,
          directive: brief(directive),
          signal: stop.signal,
          // Each effect has its own key, numbered in the order the module asks (the first keeps the run's key), so a replay finds each.
          once: (effect) => this.once(++effects === 1 ? run.idempotencyKey : `${run.idempotencyKey}:${effects}`, name, effect),
          record: (type, body) => this.record(directive.id, runId, type, body, `m${++recorded}`),
        });
      } catch (err) {
        // A payload the module cannot use is the directive's failure; anything else is the module's error.
        const stopped = stop.reason();
        result = err instanceof AirlockError ? { status: "FAILURE", error: err.message } : { status: "ERROR", error: stopped === "timebox" ? `the directive's timebox of ${directive.timeboxSeconds} s ran out` : stopped === "aborted" ? "the directive was aborted" : errorText(err) };
      } finally {
        stop.dispose();
      }
      result = storableResult(result);
      metrics.moduleExecutions.inc({ module: name, status: result.status });
      await this.record(directive.id, runId, "execution_checkpoint", { step: "module", module: name, status: result.status }, "module");
      return result;
    });
  }

  private stepFailed(started: { runId: string; module: string }, err: unknown): StepOutcome {
    this.options.logger.error({ run: started.runId, module: started.module, err: errorText(err) }, "the module step failed; the run ends failed");
    return { status: "ERROR", error: `the module step failed: ${errorText(err)}` };
  }

  private endRun(started: { runId: string; module: string }, outcome: StepOutcome): Promise<void> {
    const { runId, module } = started;
    return inSpan("airlock.execution.end", { "airlock.run": runId, "airlock.module": module, "airlock.module_status": outcome.status }, async () => {
      const { db, logger, metrics } = this.options;
      logger.info({ run: runId, step: "end", status: outcome.status }, "execution step ran");
      const run = await q.getRun(db, runId);
      if (!run || run.status === "pending") return;
      let ended: ExecutionRunRow | undefined = run;
      if (run.status === "running") {
        // Aborted by an admin before or while the module ran: the run is canceled, with what the module said kept.
        const aborted = outcome.status === "CANCELED" || (await getDirective(db, run.directiveId))?.status === "aborted";
        const fields = outcome.status === "CANCELED" ? {} : { moduleStatus: outcome.status, output: outcome.output ?? null, error: outcome.error ?? null };
        ended = await q.moveRun(db, runId, "running", aborted ? "canceled" : runStatusOf(outcome.status as ModuleResult["status"]), fields);
        if (!ended) return; // another execution of this step ended it
        metrics.executionDuration.observe({ module, status: ended.status }, (ended.durationMs ?? 0) / 1000);
      }
      // A replay (the run ended before) finishes what the first execution may not have: both writes are idempotent.
      // The trail is complete before the directive says so: whoever sees it complete also sees its end.
      await this.record(run.directiveId, runId, "execution_end", { status: ended.status, moduleStatus: ended.moduleStatus, error: ended.error, durationMs: ended.durationMs });
      if (ended.status !== "canceled") {
        // An abort landing between the read above and this move is refused by the lifecycle; the abort stands.
        await this.options.moveDirective(run.directiveId, ended.status === "completed" ? "complete" : "aborted").catch((err: unknown) => {
          if (!(err instanceof AirlockError)) throw err;
        });
      }
      // Said once, by the execution that ended the run; a replay only finished its writes.
      if (run.status === "running") logger.info({ run: runId, directive: run.directiveId, status: ended.status, durationMs: ended.durationMs }, "execution run ended");
      else logger.debug({ run: runId, status: ended.status }, "execution end replayed");
    });
  }

  private async once<T>(key: string, module: string, effect: () => Promise<T>): Promise<T> {
    const { db } = this.options;
    const found = await q.getEffect(db, key);
    if (found.found) {
      this.options.logger.info({ run: key, module }, "module effect found: not done again");
      return found.result as T;
    }
    const result = await q.putEffect(db, key, module, await effect());
    this.options.logger.info({ run: key, module }, "module effect done");
    return result as T;
  }

  /** Artifact ids are derived from the run, the step and the type, so a replayed step writes nothing twice. */
  private record(directiveId: string, runId: string, type: ArtifactRow["type"], body: Record<string, unknown>, step = "run"): Promise<void> {
    return this.options.artifacts.write({ id: `art_${runId.slice(4)}_${step}_${type}`, directiveId, runId, type, body });
  }
}

function brief(directive: DirectiveRow): DirectiveBrief {
  const { id, role, type, payload, objective, scope, constraints, budget, issuedBy } = directive;
  return { id, role, type, payload, objective, scope, constraints, budget, issuedBy };
}

/**
 * An error's message, for the run's record and the log. A failed statement's message carries its
 * parameters (a directive's payload among them): its cause, the store's own reason, is said instead.
 */
function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.message.startsWith("Failed query") && err.cause instanceof Error ? err.cause.message : err.message;
}

/** What the end step writes to the run must be storable: an output with a NUL in it ends the run as the module's error. */
function storableResult(result: ModuleResult): ModuleResult {
  const error = result.error?.replaceAll("\u0000", "\ufffd");
  if (nulPath(result.output) === undefined) return error === result.error ? result : { ...result, error };
  return { status: "ERROR", error: `the module's output holds a NUL character (\\u0000), which the store cannot keep` };
}
