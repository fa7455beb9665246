import { userInfo } from "node:os";
import path from "node:path";
import { KeyRing } from "../auth/keys.js";
import { newKeySchema } from "../auth/new-key.js";
import type { Principal } from "../auth/principal.js";
import { parseRequest } from "../config/load.js";
import { sloSchema } from "../config/schema.js";
import { EARLIEST_DATE, LATEST_DATE, parseSince } from "../core/duration.js";
import { AirlockError } from "../core/errors.js";
import { silentLogger } from "../core/logger.js";
import { AuditLog } from "../governance/audit-log.js";
import { EVERY_WEBHOOK, killSwitchFlipped, queueForEveryWebhook, SENDER_LIVE_MS } from "../governance/notifications.js";
import { directivePage, runPage } from "../governance/pages.js";
import { deliveryPage, resendFailed } from "../governance/webhook-deliveries.js";
import { BudgetBook } from "../guards/budget-book.js";
import { KillSwitch } from "../guards/kill-switch.js";
import { RateLimitRules } from "../guards/rate-limit-rules.js";
import { LedgerReports } from "../ledger/ledger-reports.js";
import { loadProfitAndLoss } from "../ledger/pnl-report.js";
import { reportWindow } from "../ledger/pnl.js";
import { fallbackReport, totalCost } from "../ledger/reports.js";
import type { StoredRoute } from "../routing/route-book.js";
import { openDatabase } from "../store/database.js";
import type { StoreThread } from "../store/pglite-client.js";
import { CHANGES_CHANNEL } from "../store/notices.js";
import { expireChangeRequests, getChangeRequest, listChangeRequests } from "../store/queries/change-requests.js";
import { getDirective } from "../store/queries/directives.js";
import { artifactsOfRun, getRun } from "../store/queries/executions.js";
import { addPrices } from "../store/queries/prices.js";
import { allRoutes } from "../store/queries/routes.js";
import type { ChangeRequestRow } from "../store/schema/index.js";
import { CliError, type AdminBackend } from "./admin-client.js";

/** The CLI's way in when no gateway answers: the store itself, opened for the one command. */
export async function localBackend(dataDir: string, databaseUrl: string | undefined, pglite?: Promise<StoreThread>): Promise<AdminBackend> {
  const database = await openDatabase(databaseUrl ? { url: databaseUrl } : { dataDir: path.join(dataDir, "pgdata"), pglite });
  const keys = new KeyRing(database.db, undefined);
  // Gateways on the same PostgreSQL hear the flip at once (and re-read it within their poll interval anyway).
  const killSwitch = new KillSwitch({
    db: database.db,
    logger: silentLogger,
    pollIntervalMs: 1_000,
    staleAfterMs: 1_000,
    shared: false,
    announce: () => database.notify(CHANGES_CHANNEL, "kill_switch").catch(() => undefined),
  });
  // The limits in force live in the gateways; here they are only read and written.
  const rateLimits = new RateLimitRules({ db: database.db, logger: silentLogger, seeds: [], limits: { use: () => undefined }, announce: () => database.notify(CHANGES_CHANNEL, "rate_limits").catch(() => undefined) });
  // Nothing pending to flush: the CLI writes no ledger rows.
  const reports = new LedgerReports(database.db, async () => {});
  // Never started: starting seeds the file's budgets, which only a gateway knows.
  const budgetBook = new BudgetBook(database.db, []);
  const announceBudgets = () => database.notify(CHANGES_CHANNEL, "budgets").catch(() => undefined);
  // Gateways on the same PostgreSQL reload their keys at once; without this a revoked key would work on until their next reload.
  const announceKeys = () => database.notify(CHANGES_CHANNEL, "keys").catch(() => undefined);
  return {
    via: databaseUrl ? "the PostgreSQL store (no gateway running)" : `the store in ${dataDir} (no gateway running)`,
    createKey: async (input) => {
      // Held to the same limits as a key created through a gateway's admin API.
      const checked = parseRequest(newKeySchema, input, "key");
      const created = await keys.create({ name: checked.name, kind: checked.kind, userId: checked.user, teamId: checked.team, orgId: checked.org, expiresAt: checked.expiresAt, models: checked.models }, cliActor());
      await announceKeys();
      return created;
    },
    listKeys: () => keys.list(),
    revokeKey: async (id) => {
      const revoked = await keys.revoke(id, cliActor());
      if (!revoked) throw new CliError(`not_found: no active key with id "${id}"`);
      await announceKeys();
      return revoked;
    },
    spend: async (by, sinceText, filters) => {
      const since = sinceOf(sinceText);
      const lines = await reports.spend(by, since, filters);
      return { by, since: since.toISOString(), total: totalCost(lines), lines };
    },
    overview: (sinceText, filters) => reports.overview(sinceOf(sinceText), filters, sloSchema.parse({})),
    rateLimits: async () => {
      await rateLimits.reload();
      return rateLimits.list();
    },
    setRateLimit: (name, limit) => rateLimits.put(name, limit, cliPrincipal()),
    deleteRateLimit: async (name) => {
      if (!(await rateLimits.remove(name, cliPrincipal()))) throw new CliError(`not_found: no rate limit named "${name}"`);
    },
    budgets: async () => {
      await budgetBook.reload();
      return budgetBook.status();
    },
    setBudget: async (name, budget) => {
      await budgetBook.put(name, budget, cliPrincipal());
      await announceBudgets();
      return (await budgetBook.status()).find((b) => b.name === name)!;
    },
    deleteBudget: async (name) => {
      if (!(await budgetBook.remove(name, cliPrincipal()))) throw new CliError(`not_found: no budget named "${name}"`);
      await announceBudgets();
    },
    profitAndLoss: async (fromText, toText) => {
      const { from, to } = reportWindow(fromText, toText);
      return loadProfitAndLoss(database.db, from, to);
    },
    reconciliation: async (sinceText) => {
      const since = sinceOf(sinceText, "30d");
      return { since: since.toISOString(), lines: await reports.reconciliation(since) };
    },
    fallbacks: async (sinceText) => {
      const since = sinceOf(sinceText);
      return fallbackReport(await reports.fallbackReport(since), since);
    },
    routes: async () =>
      (await allRoutes(database.db)).map((row) => ({
        name: row.name,
        definition: row.definition as unknown as StoredRoute["definition"],
        source: row.source,
        updatedAt: row.updatedAt.toISOString(),
        updatedBy: row.updatedBy,
      })),
    importPrices: async (entries) => {
      const added = await addPrices(database.db, entries, "openrouter", new Date());
      if (added > 0) await database.notify(CHANGES_CHANNEL, "prices").catch(() => undefined);
      return { received: entries.length, added };
    },
    killSwitch: async () => {
      await killSwitch.reload();
      return killSwitch.status();
    },
    flipKillSwitch: async (input) => {
      if (input.operation !== undefined && !(await allRoutes(database.db)).some((route) => route.name === input.operation)) {
        throw new CliError(`not_found: unknown operation "${input.operation}"`);
      }
      const flipped = await killSwitch.flip(input, cliActor());
      // No gateway is there to raise the event: it is queued for the first gateway with webhooks to send on.
      await queueForEveryWebhook(database.db, "kill_switch.flipped", killSwitchFlipped(input, cliActor().keyId)).catch(() => {
        throw new CliError("the kill switch was written, but the store refused its kill_switch.flipped webhook event: no webhook will hear of this flip");
      });
      return flipped;
    },
    approvals: async (status) => {
      await expireChangeRequests(database.db);
      return listChangeRequests(database.db, status as ChangeRequestRow["status"] | undefined, 100);
    },
    approval: async (id) => {
      await expireChangeRequests(database.db);
      const found = await getChangeRequest(database.db, id);
      if (!found) throw new CliError(`not_found: no change request "${id}"`);
      return found;
    },
    decide: async () => {
      // Approving checks the change against the routes, prices and budgets in force and tells every instance: a gateway's work.
      throw new CliError("approving or rejecting needs a running gateway (start one with `airlock start`, or pass --url)");
    },
    directives: (query) => viaCli(directivePage(database.db, query)),
    directive: async (id) => {
      const found = await getDirective(database.db, id);
      if (!found) throw new CliError(`not_found: no directive "${id}"`);
      return found;
    },
    runs: (query) => viaCli(runPage(database.db, query)),
    run: async (id) => {
      const found = await getRun(database.db, id);
      if (!found) throw new CliError(`not_found: no run "${id}"`);
      return { ...found, artifacts: await artifactsOfRun(database.db, id) };
    },
    createDirective: () => Promise.reject(new CliError("directives are issued through a running gateway, whose policy judges them (start one with `airlock start`, or pass --url)")),
    moveDirective: () => Promise.reject(new CliError("moving a directive needs a running gateway, whose policy judges it (start one with `airlock start`, or pass --url)")),
    audit: async (sinceText, action, limit) => {
      return new AuditLog(database.db).recent(limit, { since: sinceOf(sinceText), action });
    },
    webhookDeliveries: (query) => viaCli(deliveryPage(database.db, query)),
    // On PostgreSQL, refused unless a running gateway has the webhook. An embedded store's gateway is
    // stopped: its next start sends the resend, as it sends a kill switch flip the CLI queued.
    resendDelivery: (id) => viaCli(resendFailed(database.db, id, cliActor(), EVERY_WEBHOOK, databaseUrl ? SENDER_LIVE_MS : undefined)),
    close: () => database.close(),
  };
}

/** A refusal the gateway would answer with, in the words the CLI prints for one: `code: message`. */
async function viaCli<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof AirlockError) throw new CliError(`${err.code}: ${err.message}`);
    throw err;
  }
}

/** The CLI writing to the store itself (no gateway running), as the audit log names it. */
function cliActor(): { keyId: string; kind: "admin" } {
  return { keyId: `cli:${userInfo().username}`, kind: "admin" };
}

function cliPrincipal(): Principal {
  return { ...cliActor(), name: "cli", userId: null, teamId: null, orgId: null };
}

function sinceOf(text: string, example = "24h or 7d"): Date {
  const since = parseSince(text);
  if (!since) throw new CliError(`invalid --since "${text}": use a duration such as ${example}, or an ISO date, from ${EARLIEST_DATE} to ${LATEST_DATE}`);
  return since;
}
