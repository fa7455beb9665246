import path from "node:path";
import type { CreatedKey, PublicKey } from "../auth/keys.js";
import type { KeyRequest } from "../auth/new-key.js";
import type { FlipInput, KillSwitchStatus } from "../guards/kill-switch.js";
import type { DirectiveQuery, RunQuery } from "../governance/pages.js";
import type { DeliveryPage, DeliveryQuery } from "../governance/webhook-deliveries.js";
import type { Page, PageQuery } from "../core/page-cursor.js";
import type { RateLimitStatus } from "../guards/rate-limit-rules.js";
import type { BudgetStatus } from "../guards/budget-book.js";
import { fetchRefusesPort, isHttpUrl } from "../core/http-url.js";
import type { Overview } from "../ledger/overview.js";
import type { LedgerFilters } from "../store/queries/ledger-filters.js";
import { adminKeyFromEnv, readAdminKeyFile, runningGateway } from "../gateway/data-dir.js";
import type { FallbackReport } from "../ledger/reports.js";
import type { StoredRoute } from "../routing/route-book.js";
import type { ProfitAndLoss } from "../ledger/pnl.js";
import { startPgliteAhead } from "../store/pglite-client.js";
import { DEFAULT_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS, parseTimeoutSeconds } from "./timeout.js";
import type { ReconciliationLine, SpendGroup, SpendLine } from "../store/queries/ledger.js";
import type { PriceEntry } from "../store/queries/prices.js";
import type { ArtifactRow, AuditEventRow, ChangeRequestRow, DirectiveRow, ExecutionRunRow, WebhookDeliveryRow } from "../store/schema/index.js";

export interface SpendReport {
  by: SpendGroup;
  since: string;
  total: string;
  lines: SpendLine[];
}

export interface ReconciliationReport {
  since: string;
  lines: ReconciliationLine[];
}

/** What the CLI needs from Airlock, whether it talks to a running gateway or opens the store itself. */
export interface AdminBackend {
  readonly via: string;
  /** Takes the admin API's body, so a key made without a gateway is checked as one made through it. */
  createKey(input: KeyRequest): Promise<CreatedKey>;
  listKeys(): Promise<PublicKey[]>;
  revokeKey(id: string): Promise<PublicKey>;
  spend(by: SpendGroup, since: string, filters?: LedgerFilters): Promise<SpendReport>;
  /** The dashboard's overview; without a gateway its service levels are judged against the default thresholds. */
  overview(since: string, filters: LedgerFilters): Promise<Overview>;
  rateLimits(): Promise<RateLimitStatus[]>;
  setRateLimit(name: string, limit: Record<string, unknown>): Promise<RateLimitStatus>;
  deleteRateLimit(name: string): Promise<void>;
  budgets(): Promise<BudgetStatus[]>;
  setBudget(name: string, budget: Record<string, unknown>): Promise<BudgetStatus>;
  deleteBudget(name: string): Promise<void>;
  fallbacks(since: string): Promise<FallbackReport>;
  reconciliation(since: string): Promise<ReconciliationReport>;
  profitAndLoss(from: string | undefined, to: string | undefined): Promise<ProfitAndLoss>;
  routes(): Promise<Array<StoredRoute & { candidates?: string[] }>>;
  importPrices(entries: PriceEntry[]): Promise<{ received: number; added: number }>;
  killSwitch(): Promise<KillSwitchStatus>;
  flipKillSwitch(input: FlipInput): Promise<KillSwitchStatus>;
  approvals(status: string | undefined): Promise<ChangeRequestRow[]>;
  approval(id: string): Promise<ChangeRequestRow>;
  decide(id: string, decision: "approve" | "reject", note: string | undefined): Promise<ChangeRequestRow>;
  audit(since: string, action: string | undefined, limit: number): Promise<AuditEventRow[]>;
  directives(query: DirectiveQuery): Promise<Page<DirectiveRow>>;
  runs(query: RunQuery): Promise<Page<ExecutionRunRow>>;
  run(id: string): Promise<ExecutionRunRow & { artifacts?: ArtifactRow[] }>;
  directive(id: string): Promise<DirectiveRow & { artifacts?: Array<{ type: string; body: unknown }> }>;
  /** With an idempotency key, sending it again (after a timeout) answers the directive made the first time. */
  createDirective(input: Record<string, unknown>, idempotencyKey?: string): Promise<DirectiveRow>;
  moveDirective(id: string, action: "propose" | "approve" | "abort"): Promise<DirectiveRow>;
  webhookDeliveries(query: DeliveryQuery): Promise<DeliveryPage>;
  resendDelivery(id: string): Promise<WebhookDeliveryRow>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  url?: string;
  adminKey?: string;
  dataDir?: string;
  /** Seconds each call to a gateway may take to be answered whole (`--timeout`, env AIRLOCK_CLI_TIMEOUT). */
  timeout?: number;
}

export class CliError extends Error {}

/**
 * PGlite allows one process at a time, so while a gateway runs the CLI goes through its admin API;
 * only when nothing answers at the URL does it open the store directly.
 */
export async function connect(options: ConnectOptions, env: NodeJS.ProcessEnv = process.env): Promise<AdminBackend> {
  const dataDir = path.resolve(options.dataDir ?? env.AIRLOCK_DATA_DIR ?? ".airlock");
  const holder = await runningGateway(dataDir);
  if (!options.url && env.AIRLOCK_URL && !isHttpUrl(env.AIRLOCK_URL)) throw new CliError(`AIRLOCK_URL must be an http:// or https:// URL (got "${env.AIRLOCK_URL}")`);
  const url = (options.url || env.AIRLOCK_URL || holder?.url || "http://127.0.0.1:4100").replace(/\/+$/, "");
  const adminKey = options.adminKey ?? adminKeyFromEnv(env) ?? (await readAdminKeyFile(dataDir));
  const timeoutSeconds = options.timeout ?? timeoutFromEnv(env);
  // A gateway that holds the data directory leaves no other way in, so its health probe gets the whole
  // call's timeout: on a loaded machine it can take longer than the short probe that finds no gateway at all.
  if (await reachable(url, holder ? timeoutSeconds * 1000 : UNKNOWN_GATEWAY_PROBE_MS)) {
    if (!adminKey) throw new CliError("no admin key: set AIRLOCK_ADMIN_KEY or pass --admin-key");
    return httpBackend(url, adminKey, timeoutSeconds);
  }
  if (holder) {
    // Opening the store behind a live gateway would split the data: PGlite is single-process.
    throw new CliError(`a gateway (pid ${holder.pid}) holds ${dataDir} but does not answer at ${url}; pass --url ${holder.url}`);
  }
  const databaseUrl = env.DATABASE_URL || undefined;
  // The embedded store takes longer to open than its queries take to load: it opens meanwhile.
  const pglite = databaseUrl ? undefined : (await startPgliteAhead({ dataDir: path.join(dataDir, "pgdata"), brief: true })).thread;
  // Only here are the store and its queries loaded: a command sent to a gateway never needs them.
  const { localBackend } = await import("./local-backend.js");
  return localBackend(dataDir, databaseUrl, pglite);
}

/** How long the CLI waits for /healthz where no gateway holds the data directory, before opening the store itself. */
const UNKNOWN_GATEWAY_PROBE_MS = 1_500;

async function reachable(url: string, timeoutMs: number): Promise<boolean> {
  // fetch would refuse the port before connecting: a gateway there never answers, and taking that for
  // no gateway would open a store here instead.
  if (fetchRefusesPort(Number(new URL(url).port))) {
    throw new CliError(`${url} is on a port that fetch refuses to connect to, as browsers do (a port of another protocol): run the gateway on another port (airlock start --port)`);
  }
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok;
  } catch {
    return false;
  }
}

function timeoutFromEnv(env: NodeJS.ProcessEnv): number {
  const text = env.AIRLOCK_CLI_TIMEOUT;
  if (text === undefined || text === "") return DEFAULT_TIMEOUT_SECONDS;
  const seconds = parseTimeoutSeconds(text);
  if (seconds === undefined) throw new CliError(`AIRLOCK_CLI_TIMEOUT must be a number of seconds above 0, at most ${MAX_TIMEOUT_SECONDS}`);
  return seconds;
}

function httpBackend(url: string, adminKey: string, timeoutSeconds: number): AdminBackend {
  async function call<T>(method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const where = `${method} ${url}${route.split("?")[0]}`;
    const unsure = method === "GET" ? "" : ": the change may or may not have been made";
    let res: Response;
    let text: string;
    // A gateway that takes the connection and never answers (a stuck process, a proxy holding the request)
    // would otherwise keep the command waiting forever. The deadline covers the answer's body too.
    const deadline = AbortSignal.timeout(timeoutSeconds * 1000);
    try {
      res = await fetch(url + route, {
        method,
        headers: { authorization: `Bearer ${adminKey}`, ...(body ? { "content-type": "application/json" } : {}), ...headers },
        body: body ? JSON.stringify(body) : undefined,
        signal: deadline,
      });
      text = await res.text();
    } catch (err) {
      if (deadline.aborted) throw new CliError(`${where} got no answer within ${timeoutSeconds} s (raise it with --timeout or AIRLOCK_CLI_TIMEOUT)${unsure}`);
      // fetch says only "fetch failed"; the reason (a refused connection, a closed socket) is in its cause.
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
      throw new CliError(`${where} got no answer (${cause})${unsure}`);
    }
    let payload: { error?: { message?: string; code?: string } } | undefined;
    try {
      payload = JSON.parse(text) as typeof payload;
    } catch {
      // A proxy's 502 page, or something at the URL that is not Airlock: say so, not how JSON.parse failed.
      throw new CliError(`${where} answered ${res.status} without JSON: is ${url} an Airlock gateway?`);
    }
    if (!res.ok) throw new CliError(`${payload?.error?.code ?? res.status}: ${payload?.error?.message ?? "request failed"}`);
    return payload as T;
  }
  return {
    via: url,
    createKey: async (input) => {
      const { key, ...rest } = await call<PublicKey & { key: string }>("POST", "/admin/keys", input);
      return { secret: key, key: rest };
    },
    listKeys: async () => (await call<{ data: PublicKey[] }>("GET", "/admin/keys")).data,
    revokeKey: (id) => call<PublicKey>("DELETE", `/admin/keys/${encodeURIComponent(id)}`),
    spend: (by, since, filters) => call<SpendReport>("GET", `/admin/spend?${new URLSearchParams({ by, since, ...filters })}`),
    overview: (since, filters) => call<Overview>("GET", `/admin/overview?${new URLSearchParams({ since, ...filters })}`),
    rateLimits: async () => (await call<{ data: RateLimitStatus[] }>("GET", "/admin/rate-limits")).data,
    setRateLimit: (name, limit) => call<RateLimitStatus>("PUT", `/admin/rate-limits/${encodeURIComponent(name)}`, limit),
    deleteRateLimit: async (name) => void (await call("DELETE", `/admin/rate-limits/${encodeURIComponent(name)}`)),
    budgets: async () => (await call<{ data: BudgetStatus[] }>("GET", "/admin/budgets")).data,
    setBudget: (name, budget) => call<BudgetStatus>("PUT", `/admin/budgets/${encodeURIComponent(name)}`, budget),
    deleteBudget: async (name) => void (await call("DELETE", `/admin/budgets/${encodeURIComponent(name)}`)),
    fallbacks: (since) => call<FallbackReport>("GET", `/admin/reports/fallbacks?since=${encodeURIComponent(since)}`),
    reconciliation: (since) => call<ReconciliationReport>("GET", `/admin/reports/reconciliation?since=${encodeURIComponent(since)}`),
    profitAndLoss: (from, to) => call<ProfitAndLoss>("GET", `/admin/reports/pnl?${new URLSearchParams({ ...(from ? { from } : {}), ...(to ? { to } : {}) })}`),
    routes: async () => (await call<{ data: Array<StoredRoute & { candidates: string[] }> }>("GET", "/admin/routes")).data,
    importPrices: (entries) => call<{ received: number; added: number }>("POST", "/admin/prices/import", { origin: "openrouter", prices: entries }),
    killSwitch: () => call<KillSwitchStatus>("GET", "/admin/kill-switch"),
    flipKillSwitch: (input) => call<KillSwitchStatus>("POST", "/admin/kill-switch", input),
    approvals: async (status) => (await call<{ data: ChangeRequestRow[] }>("GET", `/admin/change-requests${status ? `?status=${encodeURIComponent(status)}` : ""}`)).data,
    approval: (id) => call<ChangeRequestRow>("GET", `/admin/change-requests/${encodeURIComponent(id)}`),
    decide: (id, decision, note) => call<ChangeRequestRow>("POST", `/admin/change-requests/${encodeURIComponent(id)}/${decision}`, note ? { note } : {}),
    audit: async (since, action, limit) =>
      (await call<{ data: AuditEventRow[] }>("GET", `/admin/audit?${new URLSearchParams({ since, limit: String(limit), ...(action ? { action } : {}) })}`)).data,
    directives: (query) => call<Page<DirectiveRow>>("GET", `/admin/directives?${pageParams(query)}`),
    directive: (id) => call<DirectiveRow>("GET", `/admin/directives/${encodeURIComponent(id)}`),
    runs: (query) => call<Page<ExecutionRunRow>>("GET", `/admin/runs?${pageParams(query)}`),
    run: (id) => call<ExecutionRunRow & { artifacts?: ArtifactRow[] }>("GET", `/admin/runs/${encodeURIComponent(id)}`),
    createDirective: (input, idempotencyKey) => call<DirectiveRow>("POST", "/admin/directives", input, idempotencyKey === undefined ? {} : { "idempotency-key": idempotencyKey }),
    moveDirective: (id, action) => call<DirectiveRow>("POST", `/admin/directives/${encodeURIComponent(id)}/${action}`, {}),
    webhookDeliveries: (query) => call<DeliveryPage>("GET", `/admin/webhooks/deliveries?${pageParams(query)}`),
    resendDelivery: (id) => call<WebhookDeliveryRow>("POST", `/admin/webhooks/deliveries/${encodeURIComponent(id)}/resend`),
    close: async () => undefined,
  };
}

/** A page query as the admin API reads it: `limit`, `cursor` and the list's filters, those given. */
function pageParams(query: PageQuery): URLSearchParams {
  const params: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.push([name, String(value)]);
  return new URLSearchParams(params);
}
