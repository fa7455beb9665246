import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import path from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { PRINCIPAL_KINDS, type PrincipalKind } from "../auth/principal.js";
import { tuneHeapForServer } from "../gateway/heap.js";
import { isClusterWorker, resolveStartOptions } from "../gateway/options.js";
import { startPgliteAhead } from "../store/pglite-client.js";
import { tierWasmFor } from "../core/wasm-tiering.js";
import { FILTER_NAMES, SPEND_GROUPS, type LedgerFilters, type SpendGroup } from "../store/spend-groups.js";
import { spendCsv } from "../ledger/reports.js";
import type { StoredPrice } from "../store/schema/prices.js";
import { CHANGE_STATUSES } from "../governance/change-statuses.js";
import { DIRECTIVE_STATUSES } from "../governance/directives/lifecycle.js";
import { RUN_STATUSES } from "../governance/executions/run-lifecycle.js";
import type { ConnectOptions } from "./admin-client.js";
import { print, since, wholeNumber, withBackend, withConnection } from "./command-kit.js";
import { gatewayUrl } from "./gateway-url.js";
import { registerGuardCommands } from "./guard-commands.js";
import { registerWebhookCommands } from "./webhook-commands.js";
import { printApproval, printApprovals, printAudit, printDirective, printDirectives, printRuns, printRun, printFallbacks, printKeys, printKillSwitch, printProfitAndLoss, printReconciliation, printOverview, printRoutes, printSpend, terminalText } from "./print.js";

// Only light modules are imported up front: `airlock start` boots the embedded store on its own
// thread first and loads the gateway while that runs, and the other commands load what they use.

/** A command line that cannot be run (nothing was sent): 2, as POSIX tools answer, apart from 1 for work that failed. Set before any command is added, which copies it. */
const USAGE_ERROR = 2;
const program = new Command("airlock")
  .description("Airlock: the AI operations control plane")
  .version(packageVersion(), "-V, --version", "print the version")
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : USAGE_ERROR))
  // Every command but the gateway's is one short run: its WebAssembly (PGlite, and the HTTP parser
  // behind fetch) stays in baseline code, not sent to V8's optimizer as it ends (src/core/wasm-tiering.ts).
  .hook("preAction", (root, command) => {
    if (command.parent !== root || command.name() !== "start") tierWasmFor("command");
  });

/** The installed package's version: package.json sits two levels above this module, in src/ and in dist/ alike. */
function packageVersion(): string {
  const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
  return (JSON.parse(text) as { version: string }).version;
}

program
  .command("start")
  .description("start the OpenAI-compatible gateway, admin API and metrics")
  .option("-p, --port <port>", "port to listen on (env PORT, default 4100)", toPort)
  .option("--host <host>", "address to bind (default 0.0.0.0)")
  .option("-c, --config <path>", "config file (default airlock.config.yaml, .yml or .json in the working directory, else the demo)")
  .option("--data-dir <dir>", "where the embedded store lives (env AIRLOCK_DATA_DIR, default .airlock)")
  .option("-w, --workers <n>", 'gateway processes on the same port, or "auto" for one per core (env AIRLOCK_WORKERS, default 1; needs DATABASE_URL above 1)', toWorkers)
  .action(async (opts: { port?: number; host?: string; config?: string; dataDir?: string; workers?: number }) => {
    tuneHeapForServer();
    if (isClusterWorker()) return runWorker();
    const workers = opts.workers ?? (process.env.AIRLOCK_WORKERS ? workersFromEnv(process.env.AIRLOCK_WORKERS) : 1);
    const flags = { port: opts.port, host: opts.host, configPath: opts.config, dataDir: opts.dataDir };
    // Signals are caught from the first moment, so a SIGTERM during startup still shuts down cleanly.
    // SIGHUP (a closed terminal or ssh session) stops cleanly too: Node's default for it is to die at
    // once, losing the ledger rows still buffered. The configuration is read at start, so it is no reload.
    const starting = startServing(flags, workers);
    stopOn(["SIGTERM", "SIGINT", "SIGHUP"], starting);
    await starting;
  });

async function startServing(flags: { port?: number; host?: string; configPath?: string; dataDir?: string }, workers: number): Promise<{ stop(): Promise<void> }> {
  if (workers > 1) return (await import("../gateway/cluster.js")).startCluster({ ...flags, workers });
  const options = resolveStartOptions(flags);
  // The embedded store takes longer to boot than the gateway takes to load: it opens meanwhile.
  const pglite = options.databaseUrl ? undefined : (await startPgliteAhead({ dataDir: path.join(options.dataDir, "pgdata") })).thread;
  const { startGateway } = await import("../gateway/start.js");
  return startGateway({ ...flags, pglite });
}

/**
 * A cluster worker obeys its primary: SIGTERM stops it, and what a terminal sends the whole group
 * (Ctrl-C's SIGINT, a hang-up's SIGHUP) is the primary's to handle.
 */
async function runWorker(): Promise<void> {
  process.on("SIGINT", () => undefined);
  process.on("SIGHUP", () => undefined);
  const starting = import("../gateway/cluster.js").then(({ startClusterWorker }) => startClusterWorker());
  // A service manager may signal every process of the group and the primary forwards it too: a
  // second SIGTERM must not cut a worker's ledger flush short.
  stopOn(["SIGTERM"], starting, { repeated: "ignore" });
  await starting;
}

/** Stops gracefully on the first signal. A repeated one kills at once (a second Ctrl-C), unless told to ignore it. */
function stopOn(signals: NodeJS.Signals[], starting: Promise<{ stop(): Promise<void> }>, options: { repeated: "kill" | "ignore" } = { repeated: "kill" }): void {
  const shutdown = () => {
    starting.then(
      (running) =>
        running.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`airlock: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exit(1);
          },
        ),
      // A start that failed has nothing to stop: its own error is reported, once, where it is awaited.
      () => undefined,
    );
  };
  let stopping = false;
  for (const signal of signals) {
    const onSignal = () => {
      if (stopping) return;
      stopping = true;
      shutdown();
    };
    if (options.repeated === "ignore") process.on(signal, onSignal);
    else process.once(signal, onSignal);
  }
}

const keys = program.command("keys").description("manage API keys");
withConnection(keys.command("create").description("create a key; the secret is printed once"))
  .requiredOption("--name <name>", "a label for the key")
  .addOption(new Option("--kind <kind>", "who uses it").choices([...PRINCIPAL_KINDS]).default("user"))
  .option("--user <user>", "the user the key belongs to")
  .option("--team <team>", "the team the key belongs to")
  .option("--org <org>", "the org the key belongs to")
  .option("--expires-in <duration>", "the key stops working this long from now (12h, 30d)")
  .option("--expires-at <date>", "the key stops working at this ISO 8601 date or date-time")
  .option("--models <ids>", "the only catalog models the key may use, comma-separated")
  .action((opts: ConnectOptions & { name: string; kind: PrincipalKind; user?: string; team?: string; org?: string; expiresIn?: string; expiresAt?: string; models?: string; json?: boolean }) =>
    withBackend(opts, async (backend) => {
      const models = opts.models?.split(",").map((id) => id.trim()).filter(Boolean);
      const created = await backend.createKey({ name: opts.name, kind: opts.kind, user: opts.user, team: opts.team, org: opts.org, expiresIn: opts.expiresIn, expiresAt: opts.expiresAt, models });
      if (opts.json) return print({ ...created.key, key: created.secret });
      print(`Created ${created.key.kind} key "${created.key.name}" (${created.key.id})${created.key.expiresAt ? `, expiring at ${created.key.expiresAt}` : ""}.`);
      print(`\n  ${created.secret}\n`);
      print("Store it now: Airlock keeps only a hash and cannot show it again.");
      // Where it went: with no gateway answering, a key written to a store no gateway reads would never work.
      print(`Written through ${backend.via}.`);
    }),
  );
withConnection(keys.command("list").description("list keys (never their secrets)")).action((opts: ConnectOptions & { json?: boolean }) =>
  withBackend(opts, async (backend) => {
    const list = await backend.listKeys();
    print(opts.json ? list : printKeys(list));
  }),
);
withConnection(keys.command("revoke").description("revoke a key by id").argument("<id>")).action((id: string, opts: ConnectOptions & { json?: boolean }) =>
  withBackend(opts, async (backend) => {
    const revoked = await backend.revokeKey(id);
    print(opts.json ? revoked : `Revoked ${revoked.id} ("${revoked.name}").\nWritten through ${backend.via}.`);
  }),
);

withFilters(withConnection(program.command("spend").description("spend totals from the ledger")))
  .addOption(new Option("--by <group>", "group by").choices([...SPEND_GROUPS]).default("operation"))
  .option("--since <when>", "a duration back from now (24h, 7d) or an ISO date", since(), "24h")
  .option("--csv", "print CSV (exact decimal costs), for spreadsheets")
  .action((opts: ConnectOptions & LedgerFilters & { by: SpendGroup; since: string; json?: boolean; csv?: boolean }) =>
    withBackend(opts, async (backend) => {
      const report = await backend.spend(opts.by, opts.since, filtersOf(opts));
      if (opts.csv) return void process.stdout.write(spendCsv(report.by, report.lines));
      print(opts.json ? report : printSpend(report));
    }),
  );

withFilters(withConnection(program.command("overview").description("the dashboard's overview: calls, spend, latency, service levels, errors by code and the top spenders")))
  .option("--since <when>", "a duration back from now (24h, 7d) or an ISO date", since(), "24h")
  .action((opts: ConnectOptions & LedgerFilters & { since: string; json?: boolean }) =>
    withBackend(opts, async (backend) => {
      const overview = await backend.overview(opts.since, filtersOf(opts));
      print(opts.json ? overview : printOverview(overview));
    }),
  );

const report = program.command("report").description("reports from the ledger");
withConnection(report.command("fallbacks").description("fallback and error rates per operation and model"))
  .option("--since <when>", "a duration back from now (24h, 7d) or an ISO date", since(), "24h")
  .action((opts: ConnectOptions & { since: string; json?: boolean }) =>
    withBackend(opts, async (backend) => {
      const result = await backend.fallbacks(opts.since);
      print(opts.json ? result : printFallbacks(result));
    }),
  );

withConnection(report.command("reconciliation").description("Airlock's cost against the provider's own reported cost (OpenRouter), per model"))
  .option("--since <when>", "a duration back from now (30d) or an ISO date", since("30d"), "30d")
  .action((opts: ConnectOptions & { since: string; json?: boolean }) =>
    withBackend(opts, async (backend) => {
      const result = await backend.reconciliation(opts.since);
      print(opts.json ? result : printReconciliation(result));
    }),
  );

withConnection(report.command("pnl").description("profit and loss: revenue, AI spend from the ledger and operating costs, and the margin"))
  .option("--from <day>", "first UTC day, e.g. 2026-11-01 (default: 29 days before --to)")
  .option("--to <day>", "last UTC day, included (default: today)")
  .action((opts: ConnectOptions & { from?: string; to?: string; json?: boolean }) =>
    withBackend(opts, async (backend) => {
      const result = await backend.profitAndLoss(opts.from, opts.to);
      print(opts.json ? result : printProfitAndLoss(result));
    }),
  );

const routes = program.command("routes").description("operation routes (change them with the admin API: PUT/PATCH /admin/routes/NAME)");
withConnection(routes.command("list").description("every route, where it came from, and what it resolves to")).action((opts: ConnectOptions & { json?: boolean }) =>
  withBackend(opts, async (backend) => {
    const list = await backend.routes();
    print(opts.json ? list : printRoutes(list));
  }),
);

registerGuardCommands(program);
registerWebhookCommands(program);

const killSwitch = program.command("kill-switch").description("stop AI calls at once, all of them or one operation's; every flip is audited");
for (const state of ["on", "off"] as const) {
  withConnection(killSwitch.command(state).description(state === "on" ? "stop calls: they fail with kill_switch_active (503) on every instance" : "let calls run again"))
    .option("--operation <name>", "only this operation's calls (default: all calls)")
    .requiredOption("--reason <text>", "why: kept in the audit log")
    .action((opts: ConnectOptions & { operation?: string; reason: string; json?: boolean }) =>
      withBackend(opts, async (backend) => {
        const status = await backend.flipKillSwitch({ active: state === "on", operation: opts.operation, reason: opts.reason });
        // Say where it was written: a store no gateway reads would stop nothing.
        print(opts.json ? status : `${printKillSwitch(status)}\nWritten through ${backend.via}.`);
      }),
    );
}
withConnection(killSwitch.command("status").description("the global switch and each operation's")).action((opts: ConnectOptions & { json?: boolean }) =>
  withBackend(opts, async (backend) => {
    const status = await backend.killSwitch();
    print(opts.json ? status : printKillSwitch(status));
  }),
);

const approvals = program.command("approvals").description("change requests: proposed configuration changes waiting for an admin's decision");
withConnection(approvals.command("list").description("change requests, newest first"))
  .addOption(new Option("--status <status>", "only those with this status (default: all)").choices([...CHANGE_STATUSES]))
  .action((opts: ConnectOptions & { status?: string; json?: boolean }) =>
    withBackend(opts, async (backend) => {
      const list = await backend.approvals(opts.status);
      print(opts.json ? list : printApprovals(list));
    }),
  );
withConnection(approvals.command("show").description("one change request, with its current and proposed values").argument("<id>")).action((id: string, opts: ConnectOptions & { json?: boolean }) =>
  withBackend(opts, async (backend) => {
    const found = await backend.approval(id);
    print(opts.json ? found : printApproval(found));
  }),
);
for (const decision of ["approve", "reject"] as const) {
  withConnection(approvals.command(decision).description(decision === "approve" ? "approve and apply it (not your own request)" : "reject it").argument("<id>"))
    .option("--note <text>", "kept with the decision and in the audit log")
    .action((id: string, opts: ConnectOptions & { note?: string; json?: boolean }) =>
      withBackend(opts, async (backend) => {
        const decided = await backend.decide(id, decision, opts.note);
        print(opts.json ? decided : printApproval(decided));
      }),
    );
}

const directives = program.command("directives").description("agent intent: issued, judged by policy, approved by a human admin");
withConnection(directives.command("create").description("issue a directive (a draft)"))
  .requiredOption("--role <role>", "the role that should act")
  .requiredOption("--type <type>", "the execution module: noop, echo, fail_intentionally or llm_call")
  .requiredOption("--objective <text>", "what it should achieve")
  .requiredOption("--scope <scope>", "test, development, staging…")
  .option("--budget <amount>", '"$50", "50.00" or "100 USD"')
  .option("--payload <json>", "the module's input, as JSON (default {})", parseJsonOption, {})
  .option("--idempotency-key <key>", "run the command again with the same key (after a timeout) and get the directive made the first time, not a second one")
  .action((opts: ConnectOptions & { role: string; type: string; objective: string; scope: string; budget?: string; payload: unknown; idempotencyKey?: string; json?: boolean }) =>
    withBackend(opts, async (backend) => {
      const fields = { role: opts.role, type: opts.type, objective: opts.objective, scope: opts.scope, payload: opts.payload, ...(opts.budget ? { budget: opts.budget } : {}) };
      const made = await backend.createDirective(fields, opts.idempotencyKey);
      print(opts.json ? made : printDirective(made));
    }),
  );
withConnection(directives.command("list").description("directives, newest first"))
  .addOption(new Option("--status <status>", "only those with this status (default: all)").choices([...DIRECTIVE_STATUSES]))
  .option("--limit <n>", "at most this many (1 to 1000)", wholeNumber("--limit", 1, 1000), 50)
  .option("--cursor <cursor>", "the next page: the cursor the page before printed")
  .action((opts: ConnectOptions & { status?: (typeof DIRECTIVE_STATUSES)[number]; limit: number; cursor?: string; json?: boolean }) =>
    withBackend(opts, async (backend) => {
      const page = await backend.directives({ status: opts.status, limit: opts.limit, cursor: opts.cursor });
      print(opts.json ? page : printDirectives(page));
    }),
  );
withConnection(directives.command("show").description("one directive, with its policy evaluations").argument("<id>")).action((id: string, opts: ConnectOptions & { json?: boolean }) =>
  withBackend(opts, async (backend) => {
    const found = await backend.directive(id);
    print(opts.json ? found : printDirective(found));
  }),
);
for (const action of ["propose", "approve", "abort"] as const) {
  withConnection(directives.command(action).description({ propose: "submit it to the policy", approve: "approve it (an admin who did not issue it)", abort: "stop it while it runs, or end it before it is approved (an admin declining it, its issuer withdrawing it)" }[action]).argument("<id>")).action(
    (id: string, opts: ConnectOptions & { json?: boolean }) =>
      withBackend(opts, async (backend) => {
        const moved = await backend.moveDirective(id, action);
        print(opts.json ? moved : printDirective(moved));
      }),
  );
}

const runs = program.command("runs").description("execution runs: approved directives carried out by a module");
withConnection(runs.command("list").description("runs, newest first"))
  .addOption(new Option("--status <status>", "only those with this status (default: all)").choices([...RUN_STATUSES]))
  .option("--limit <n>", "at most this many (1 to 1000)", wholeNumber("--limit", 1, 1000), 50)
  .option("--cursor <cursor>", "the next page: the cursor the page before printed")
  .action((opts: ConnectOptions & { status?: (typeof RUN_STATUSES)[number]; limit: number; cursor?: string; json?: boolean }) =>
    withBackend(opts, async (backend) => {
      const page = await backend.runs({ status: opts.status, limit: opts.limit, cursor: opts.cursor });
      print(opts.json ? page : printRuns(page));
    }),
  );
withConnection(runs.command("show").description("one run, with its artifacts").argument("<id>")).action((id: string, opts: ConnectOptions & { json?: boolean }) =>
  withBackend(opts, async (backend) => {
    const found = await backend.run(id);
    print(opts.json ? found : printRun(found));
  }),
);

withConnection(program.command("audit").description("the audit log: guard and configuration changes, decisions, keys"))
  .option("--since <when>", "a duration (24h, 7d) or an ISO date", since(), "24h")
  .option("--action <action>", "one action, or a prefix ending in a dot (change_request.)")
  .option("--limit <n>", "at most this many, newest first (1 to 1000)", wholeNumber("--limit", 1, 1000), 100)
  .action((opts: ConnectOptions & { since: string; action?: string; limit: number; json?: boolean }) =>
    withBackend(opts, async (backend) => {
      const events = await backend.audit(opts.since, opts.action, opts.limit);
      print(opts.json ? events : printAudit(events));
    }),
  );

const models = program.command("models").description("the model catalog and its prices");
models
  .command("sync")
  .description("import prices from an OpenRouter models list (GET https://openrouter.ai/api/v1/models), as price history")
  .option("--file <path>", "a saved copy of the list")
  .option("--url <url>", "where to fetch the list from")
  .option("--gateway <url>", "a running gateway (env AIRLOCK_URL, default http://127.0.0.1:4100)", gatewayUrl)
  .option("--admin-key <key>", "admin key (env AIRLOCK_ADMIN_KEY, else <data-dir>/admin-key)")
  .option("--data-dir <dir>", "the embedded store, used when no gateway answers (env AIRLOCK_DATA_DIR)")
  .option("--json", "print JSON")
  .action(async (opts: { file?: string; url?: string; gateway?: string; adminKey?: string; dataDir?: string; json?: boolean }, command: Command) => {
    if (!opts.file === !opts.url) command.error("error: give exactly one of --file PATH or --url URL");
    const { readOpenRouterModels } = await import("./models-sync.js");
    const { prices, skipped } = await readOpenRouterModels(opts);
    await withBackend({ url: opts.gateway, adminKey: opts.adminKey, dataDir: opts.dataDir }, async (backend) => {
      const result = await backend.importPrices(prices.map((p) => ({ model: p.model, price: p.price as unknown as StoredPrice })));
      if (opts.json) return print({ ...result, skipped });
      print(`Read ${prices.length} priced models (${skipped.length} skipped); ${result.added} prices changed and were recorded, in force from now.`);
      for (const s of skipped.slice(0, 10)) print(`  skipped ${s.id}: ${s.reason}`);
    });
  });

function withFilters(command: Command): Command {
  return command
    .option("--operation <name>", "only this operation's calls ((none): calls without one)")
    .option("--model <id>", "only calls this model served")
    .option("--user <id>", "only this user's calls (the end user, else the key's user)");
}

function filtersOf(opts: LedgerFilters): LedgerFilters {
  return Object.fromEntries(FILTER_NAMES.filter((name) => opts[name]).map((name) => [name, opts[name]]));
}

function parseJsonOption(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidArgumentError("not valid JSON");
  }
}

function toPort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError("a port is a whole number from 0 to 65535");
  return port;
}

/** As PORT's refusal does, says which variable was wrong: no flag was given to blame. */
function workersFromEnv(value: string): number {
  try {
    return toWorkers(value);
  } catch {
    throw new InvalidArgumentError(`AIRLOCK_WORKERS is a whole number from 1 to 256, or "auto" (got "${value}")`);
  }
}

function toWorkers(value: string): number {
  if (value === "auto") return availableParallelism();
  const workers = Number(value);
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new InvalidArgumentError('workers is a whole number from 1 to 256, or "auto"');
  return workers;
}

// Config and usage errors carry a message written for people; nothing else reaches the terminal either.
program.parseAsync(process.argv).catch((err: unknown) => {
  // An error may quote what a server or the store said: shown as safe for the terminal as any output.
  process.stderr.write(`airlock: ${terminalText(messageFor(err))}\n`);
  process.exit(1);
});

/** One line for people. A statement the store refused is told by the store's reason, never by its SQL and parameters. */
function messageFor(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (typeof (err as { query?: unknown }).query === "string") {
    const cause = err.cause instanceof Error ? err.cause.message : "unknown reason";
    return `the store refused the request: ${cause.split("\n")[0]}`;
  }
  return err.message;
}
