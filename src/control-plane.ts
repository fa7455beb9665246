import path from "node:path";
import { KeyRing, type CreatedKey, type NewKeyInput, type PublicKey } from "./auth/keys.js";
import type { Principal } from "./auth/principal.js";
import { runSpeech, runTranscription, type AudioOutcome } from "./calls/audio.js";
import { runChat, type ChatOutcome } from "./calls/chat.js";
import type { CallContext, CallDeps } from "./calls/context.js";
import { runEmbed, type EmbedOutcome } from "./calls/embed.js";
import { refuseUnplanned } from "./calls/prepare.js";
import { openStream, type OpenStream, type StreamOptions, type TextStreamPart } from "./calls/stream.js";
import { AirlockError } from "./core/errors.js";
import { systemClock, type Clock } from "./core/clock.js";
import { silentLogger, type Logger } from "./core/logger.js";
import { ConfigError, parseRequest, type LoadedConfig } from "./config/load.js";
import { LedgerWriter } from "./ledger/writer.js";
import { createProvider } from "./providers/registry.js";
import { refusingUnsetKeys } from "./providers/unset-key.js";
import type { ChatRequest, EmbedRequest, SpeechRequest, TranscriptionRequest } from "./providers/spec.js";
import { CircuitBreakers, type BreakerSnapshot } from "./routing/breaker.js";
import { buildCatalog, closeCatalog, configRoutes, routeWorld, withPrices, withRoutes, type Catalog, type ProviderFactory } from "./routing/catalog.js";
import { PriceBook, priceSeeds, type PriceInForce } from "./ledger/price-book.js";
import type { PriceEntry } from "./store/queries/prices.js";
import { newId } from "./core/ids.js";
import { RouteBook, type RouteSet, type StoredRoute } from "./routing/route-book.js";
import { servableCandidates, type Endpoint } from "./routing/plan.js";
import { SessionPins } from "./routing/sessions.js";
import { flipInputSchema, KillSwitch, type FlipInput, type KillSwitchStatus } from "./guards/kill-switch.js";
import { FeatureToggles } from "./guards/toggles.js";
import { Budgets, type BudgetEvent } from "./guards/budgets.js";
import { budgetInput } from "./guards/budget-book.js";
import { RateLimits } from "./guards/rate-limits.js";
import { RateLimitRules } from "./guards/rate-limit-rules.js";
import { Grants } from "./guards/grants.js";
import { withDeadline } from "./core/deadline.js";
import { FinanceBook } from "./ledger/finance-book.js";
import { ChangeControl } from "./governance/change-control.js";
import { checkChange } from "./governance/change-checks.js";
import { estimateImpact } from "./governance/impact.js";
import { killSwitchFlipped, Notifier } from "./governance/notifications.js";
import { AuditLog } from "./governance/audit-log.js";
import type { Directives } from "./governance/directives/directives.js";
import { createGovernance, type Governance } from "./governance/pipeline.js";
import { joinStore, type StoreShare } from "./store/sharing.js";
import { issuerChat } from "./governance/executions/llm-call.js";
import type { ExecutionModule } from "./governance/executions/modules.js";
import { routeExtrasProblem } from "./routing/operations.js";
import type { Database } from "./store/database.js";
import type { Unlisten } from "./store/notices.js";
import { CHANGE_AREA_OF, ChangeNotices } from "./change-notices.js";
import { LedgerReports } from "./ledger/ledger-reports.js";
import { Metrics } from "./telemetry/metrics.js";

export interface ControlPlaneOptions {
  config: LoadedConfig;
  database: Database;
  logger?: Logger;
  /** The bootstrap admin key (`AIRLOCK_ADMIN_KEY`), held only as a hash in memory. */
  adminKey?: string;
  clock?: Clock;
  /** Where the ledger spools rows when the store is unreachable. */
  dataDir?: string;
  createProvider?: ProviderFactory;
  /** Adds Node process metrics (CPU, memory, event loop) to /metrics. */
  processMetrics?: boolean;
  /** This worker's name for the execution engine (default: the host name; the config's wins), and what a cluster worker adds to either. */
  executorId?: string;
  executorSuffix?: string | undefined;
  /** Execution modules beside the built-in ones. */
  modules?: readonly ExecutionModule[];
  /** Hears budget warnings, exhaustions and window openings (each raised by one instance, once per window). */
  onBudgetEvent?: (event: BudgetEvent) => void;
}

/**
 * The composition root shared by the library and the gateway: it owns the catalog, the key ring,
 * the ledger writer and the metrics, and runs every call through the hot path.
 */
export class ControlPlane {
  readonly metrics: Metrics;
  readonly keys: KeyRing;
  readonly logger: Logger;
  readonly database: Database;
  readonly routes: RouteBook;
  readonly prices: PriceBook;
  readonly killSwitch: KillSwitch;
  readonly toggles: FeatureToggles;
  readonly budgets: Budgets;
  readonly finance: FinanceBook;
  readonly reports: LedgerReports;
  readonly changes: ChangeControl;
  readonly notifier: Notifier;
  readonly audit: AuditLog;
  readonly grants: Grants;
  readonly rateLimits: RateLimitRules;
  readonly governance: Governance;
  private readonly notices: ChangeNotices;
  private readonly ledger: LedgerWriter;
  private deps: CallDeps;
  private readonly store: StoreShare;
  private closing: Promise<void> | undefined;
  private unlisten: Unlisten | undefined;
  private routesApplied = false;

  private constructor(options: ControlPlaneOptions) {
    this.logger = options.logger ?? silentLogger;
    this.database = options.database;
    this.metrics = new Metrics({ processMetrics: options.processMetrics });
    this.keys = new KeyRing(options.database.db, options.adminKey);
    this.notices = new ChangeNotices(options.database, this.logger);
    const { config } = options.config;
    const spoolPath = options.dataDir ? path.join(options.dataDir, "ledger-spool.jsonl") : undefined;
    const refusedPath = options.dataDir ? path.join(options.dataDir, "ledger-refused.jsonl") : undefined;
    this.ledger = new LedgerWriter({ store: options.database, logger: this.logger, ...config.ledger, spoolPath, refusedPath });
    const clock = options.clock ?? systemClock;
    const now = () => clock.now();
    const shared = options.database.kind === "postgres";
    this.store = joinStore(options.database, () => {
      // Another plane in this process opened the same embedded store: renew at once, and poll from now on.
      void this.budgets.sync();
      this.governance.executions.storeShared();
    });
    this.killSwitch = new KillSwitch({ db: options.database.db, logger: this.logger, ...config.killSwitch, shared, announce: () => this.notices.announce("kill_switch") });
    this.toggles = new FeatureToggles({ db: options.database.db, logger: this.logger, announce: () => this.notices.announce("toggles") });
    this.budgets = new Budgets({
      db: options.database.db,
      logger: this.logger,
      holder: newId("holder"),
      sharedStore: () => this.store.shared,
      settings: config.budgeting,
      seeds: config.budgets.map(budgetInput),
      now,
      announce: () => this.notices.announce("budgets"),
      flushLedger: () => this.ledger.flush(),
      ledgerWrites: () => this.ledger.written,
      onEvent: (event) => {
        this.metrics.budgetEvents.inc({ budget: event.budget, event: event.type });
        this.logger[event.type === "budget.window_opened" ? "info" : "warn"](event, event.type);
        options.onBudgetEvent?.(event);
        if (event.type !== "budget.window_opened") this.notifier.notify(event.type, { ...event });
      },
    });
    // Its limits come from the store (RateLimitRules), seeded from the file at start.
    const rateLimits = new RateLimits({ db: options.database.db, logger: this.logger, limits: [], now });
    this.grants = new Grants({ db: options.database.db, logger: this.logger, propose: (input, who) => this.changes.propose(input, who, true), announce: () => this.notices.announce("grants"), catalog: () => this.deps.catalog, isKeyActive: (id) => this.keys.isActive(id) });
    this.deps = {
      catalog: buildCatalog(config, refusingUnsetKeys(options.createProvider ?? createProvider, options.config.unsetKeys)),
      config,
      ledger: this.ledger,
      metrics: this.metrics,
      logger: this.logger,
      clock,
      breakers: new CircuitBreakers(config.breaker, now, (t) => {
        this.metrics.setCircuitState(t.target, t.to);
        this.logger.warn({ model: t.target, from: t.from, to: t.to }, "circuit breaker changed state");
      }),
      sessions: new SessionPins(config.sessions.ttlMs, config.sessions.maxSessions, now),
      killSwitch: this.killSwitch,
      toggles: this.toggles,
      budgets: this.budgets,
      grants: this.grants,
      rateLimits,
    };
    this.metrics.watchCircuits(() => void this.deps.breakers.snapshot());
    this.rateLimits = new RateLimitRules({ db: options.database.db, logger: this.logger, seeds: config.rateLimits, limits: rateLimits, announce: () => this.notices.announce("rate_limits") });
    this.loaded = options.config;
    this.routes = new RouteBook({
      db: options.database.db,
      logger: this.logger,
      seeds: configRoutes(config),
      world: () => routeWorld(this.deps.catalog),
      apply: (set) => this.applyRoutes(set),
      announce: () => this.notices.announce("routes"),
    });
    this.audit = new AuditLog(options.database.db);
    this.notifier = new Notifier({ db: options.database.db, logger: this.logger, webhooks: config.notifications.webhooks, retentionDays: config.notifications.retentionDays, sharedStore: () => this.store.shared });
    this.governance = createGovernance({
      database: options.database,
      logger: this.logger,
      metrics: this.metrics,
      config,
      dataDir: options.dataDir,
      executorId: options.executorId,
      executorSuffix: options.executorSuffix,
      sharedStore: () => this.store.shared,
      announceApproval: () => this.notices.announce("directives"),
      modules: options.modules,
      chat: issuerChat((keyId) => this.keys.principalOf(keyId), (body, ctx) => this.chat(body, ctx)),
    });
    this.finance = new FinanceBook(options.database.db, () => this.ledger.flush());
    this.reports = new LedgerReports(options.database.db, () => this.ledger.flush());
    this.changes = new ChangeControl({
      db: options.database.db,
      logger: this.logger,
      check: (kind, target, proposed) => checkChange({ routes: this.routes, catalog: () => this.deps.catalog, toggles: this.toggles, isKeyActive: (id) => this.keys.isActive(id) }, kind, target, proposed),
      // What an applied change touched is reloaded here, and announced to the other instances.
      applied: async (kind) => {
        const what = CHANGE_AREA_OF[kind];
        await this.notices.reload(what);
        await this.notices.announce(what);
      },
      notify: (type, request) => this.notifier.notify(type, request),
      marginImpacting: config.changeControl.marginImpacting,
      maxPendingPerKey: config.changeControl.maxPendingPerKey,
      estimate: (kind, target, proposed, days) => estimateImpact({ db: options.database.db, catalog: () => this.deps.catalog, flushLedger: () => this.ledger.flush() }, kind, target, proposed, days),
    });
    this.prices = new PriceBook({
      db: options.database.db,
      storeKind: options.database.kind,
      logger: this.logger,
      apply: (prices) => {
        this.deps = { ...this.deps, catalog: withPrices(this.deps.catalog, prices) };
      },
      announce: () => this.notices.announce("prices"),
    });
    // The kill switch first: it is the one change that must land within a second.
    this.notices.onEach({
      kill_switch: () => this.killSwitch.reload(),
      toggles: () => this.toggles.reload(),
      budgets: () => this.budgets.reload(),
      rate_limits: () => this.rateLimits.reload(),
      grants: () => this.grants.reload(),
      routes: () => this.routes.reload(),
      keys: () => this.keys.load(),
      prices: () => this.prices.reload(),
      directives: async () => this.governance.executions.kick(),
    });
  }

  /** The config in force. */
  loaded: LoadedConfig;

  static async create(options: ControlPlaneOptions): Promise<ControlPlane> {
    // A typo in the file's templates or schemas fails here, at start, not on the first call.
    const problem = routeExtrasProblem(configRoutes(options.config.config));
    if (problem) throw new ConfigError(`invalid configuration (${options.config.source}):\n  - ${problem}`);
    const plane = new ControlPlane(options);
    // Listening starts before anything is read, so that no change can fall between the read and the listen.
    plane.unlisten = await plane.notices.listen();
    await plane.keys.load();
    await plane.killSwitch.start();
    await plane.toggles.start();
    await plane.routes.start();
    await plane.budgets.start();
    await plane.grants.reload();
    await plane.rateLimits.start();
    plane.deps.rateLimits.start();
    await plane.notifier.start();
    await plane.prices.start(await priceSeeds(options.config.config));
    // Instances already running still serve the previous file's routes, prices, rate limits and budgets until told.
    for (const area of ["routes", "prices", "rate_limits", "budgets"] as const) await plane.notices.announce(area);
    await plane.ledger.start();
    // Last: a run recovered at start may make a call, which needs the prices and the ledger above.
    plane.governance.executions.start();
    for (const missing of options.config.missingSecrets) plane.logger.warn({ secret: missing }, "secret reference is not set: a provider without its key refuses its calls (misconfigured), a webhook without its URL or secret is left out");
    return plane;
  }

  get directives(): Directives {
    return this.governance.directives;
  }

  get catalog(): Catalog {
    return this.deps.catalog;
  }

  authenticate(token: string): Promise<Principal | undefined> {
    return this.keys.authenticate(token);
  }

  chat(body: ChatRequest, ctx: CallContext): Promise<ChatOutcome> {
    return runChat(this.deps, ctx, body);
  }

  stream(body: ChatRequest, ctx: CallContext): Promise<OpenStream>;
  stream(body: ChatRequest, ctx: CallContext, options: StreamOptions): Promise<OpenStream<TextStreamPart>>;
  stream(body: ChatRequest, ctx: CallContext, options: StreamOptions = {}): Promise<OpenStream<TextStreamPart>> {
    return openStream(this.deps, ctx, body, options);
  }

  embed(body: EmbedRequest, ctx: CallContext): Promise<EmbedOutcome> {
    return runEmbed(this.deps, ctx, body);
  }

  transcribe(request: TranscriptionRequest, ctx: CallContext): Promise<AudioOutcome> {
    return runTranscription(this.deps, ctx, request);
  }

  speak(request: SpeechRequest, ctx: CallContext): Promise<AudioOutcome> {
    return runSpeech(this.deps, ctx, request);
  }

  /** Records a call refused before it reached the router (a malformed body), and returns its error. */
  refuse(ctx: CallContext, endpoint: Endpoint, requestedModel: string | undefined, err: unknown): AirlockError {
    return refuseUnplanned(this.deps, ctx, endpoint, requestedModel, err);
  }

  async createKey(input: NewKeyInput, by?: Principal): Promise<CreatedKey> {
    const created = await this.keys.create(input, by);
    await this.notices.announce("keys");
    return created;
  }

  async endDashboardSession(session: string, expiresAt: number): Promise<void> {
    await this.keys.endSession(session, expiresAt);
    await this.notices.announce("keys");
  }

  listKeys(): Promise<PublicKey[]> {
    return this.keys.list();
  }

  async revokeKey(id: string, by?: Principal): Promise<PublicKey | undefined> {
    const revoked = await this.keys.revoke(id, by);
    if (revoked) await this.notices.announce("keys");
    return revoked;
  }

  listRoutes(): StoredRoute[] {
    return this.routes.list();
  }

  /** The candidates a route resolves to now, in order (tiers and nested operations expanded). */
  routeCandidates(name: string): string[] {
    return servableCandidates(this.deps.catalog, name);
  }

  routeProblem(name: string): string | undefined {
    return this.deps.catalog.operations.get(name)?.problem;
  }

  /** Every catalog model with the price in force, or none (charged the missing price, flagged). */
  priceList(): Array<{ model: string; price: PriceInForce | null }> {
    return [...this.deps.catalog.models.keys()].map((model) => ({ model, price: this.prices.get(model) ?? null }));
  }

  async setPrice(model: string, price: unknown, by: string): Promise<PriceInForce> {
    if (!this.deps.catalog.models.has(model)) throw new AirlockError("not_found", `unknown model "${model}"`, { param: "model" });
    return this.prices.set(model, price, by);
  }

  importPrices(entries: PriceEntry[], origin: "openrouter"): Promise<number> {
    return this.prices.import(entries, origin);
  }

  breakerStates(): BreakerSnapshot[] {
    return this.deps.breakers.snapshot();
  }

  /** True when the store answers a trivial query within `timeoutMs`. */
  storeReachable(timeoutMs = 2_000): Promise<boolean> {
    return withDeadline(this.database.execute("select 1"), timeoutMs).then(() => true, () => false);
  }

  /** Readiness: the store answers and the ledger is keeping up. */
  get ledgerHealthy(): boolean {
    return this.ledger.healthy;
  }

  get ledgerStats(): { recorded: number; written: number; pending: number; refused: number } {
    return { recorded: this.ledger.recorded, written: this.ledger.written, pending: this.ledger.pending, refused: this.ledger.refused };
  }

  private applyRoutes(set: RouteSet): void {
    const catalog = withRoutes(this.deps.catalog, this.deps.config, set.routes, set.problems);
    const first = !this.routesApplied;
    this.routesApplied = true;
    for (const operation of catalog.operations.values()) {
      if (operation.problem && (first || this.deps.catalog.operations.get(operation.name)?.problem !== operation.problem)) {
        this.logger.error({ operation: operation.name, problem: operation.problem }, "route cannot be served; its calls are refused as misconfigured");
      }
    }
    this.deps = { ...this.deps, catalog };
  }

  /** Flips the global switch, or an operation's; audited, and announced to every instance. */
  async flipKillSwitch(raw: FlipInput, actor: Principal): Promise<KillSwitchStatus> {
    // Checked here too, for the library, whose callers may not be typed.
    const input = parseRequest(flipInputSchema, raw, "kill switch");
    if (input.operation !== undefined && !this.deps.catalog.operations.has(input.operation)) {
      throw new AirlockError("not_found", `unknown operation "${input.operation}"`, { param: "operation" });
    }
    const flipped = await this.killSwitch.flip(input, { keyId: actor.keyId, kind: actor.kind });
    this.notifier.notify("kill_switch.flipped", killSwitchFlipped(input, actor.keyId));
    return flipped;
  }

  /** Flushes the ledger and releases providers. The database belongs to whoever opened it. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.killSwitch.close();
      this.deps.rateLimits.close();
      this.metrics.close();
      await this.governance.close();
      await this.unlisten?.();
      this.notices.close();
      await this.ledger.close();
      // After the ledger: every settled call's spend is written, so what is left to return is exact.
      await this.budgets.close();
      // After the budgets: a warning their last sync raises is queued before the store closes.
      await this.notifier.close();
      await closeCatalog(this.deps.catalog);
      this.store.leave();
    })();
    return this.closing;
  }
}
