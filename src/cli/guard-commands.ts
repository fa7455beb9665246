import type { Command } from "commander";
import type { AdminBackend, ConnectOptions } from "./admin-client.js";
import { INT4_MAX } from "../config/limits.js";
import { print, wholeNumber, withBackend, withConnection } from "./command-kit.js";
import { printBudgets, printRateLimits } from "./print.js";

/** `airlock rate-limits` and `airlock budgets`: the guards an admin sets while gateways run. */
export function registerGuardCommands(program: Command): void {
  const rateLimits = program.command("rate-limits").description("requests and tokens per minute; a limit set here stands over restarts, on every instance");
  listCommand(rateLimits, "the limits in force, and whether the file or an admin set each", (backend) => backend.rateLimits(), printRateLimits);
  withConnection(rateLimits.command("set").description("create or replace a limit; audited").argument("<name>"))
    .requiredOption("--scope <scope>", "key, user, operation or global")
    .option("--target <id>", "one key id, user id or operation name (default: each its own)")
    .option("--rpm <n>", "requests per minute", wholeNumber("--rpm", 1, INT4_MAX))
    .option("--tpm <n>", "input plus output tokens per minute", wholeNumber("--tpm", 1, INT4_MAX))
    .action((name: string, opts: ConnectOptions & { scope: string; target?: string; rpm?: number; tpm?: number; json?: boolean }) =>
      withBackend(opts, async (backend) => {
        const saved = await backend.setRateLimit(name, { scope: opts.scope, target: opts.target, requestsPerMinute: opts.rpm, tokensPerMinute: opts.tpm });
        print(opts.json ? saved : `${printRateLimits([saved])}\nWritten through ${backend.via}.`);
      }),
    );
  deleteCommand(rateLimits, "remove a limit; audited", "rate limit", (backend, name) => backend.deleteRateLimit(name));

  const budgets = program.command("budgets").description("spending limits per daily or monthly window; a budget set here stands over restarts, on every instance");
  listCommand(budgets, "every budget, its current window's spend against its limit, and whether the file or an admin set it", (backend) => backend.budgets(), printBudgets);
  withConnection(budgets.command("set").description("create or replace a budget; audited").argument("<name>"))
    .requiredOption("--scope <scope>", "key, user, team, org, operation or global")
    .option("--target <id>", "the key id, user id, team id, org id or operation name (none for global)")
    .requiredOption("--limit <usd>", 'USD per window, an exact decimal such as "250.00"')
    .option("--window <window>", "daily or monthly", "daily")
    .option("--timezone <zone>", "the IANA time zone whose midnight starts a window", "UTC")
    .option("--warn-at <usd>", "USD spent past which one warning is raised (default 80% of the limit)")
    .action((name: string, opts: ConnectOptions & { scope: string; target?: string; limit: string; window: string; timezone: string; warnAt?: string; json?: boolean }) =>
      withBackend(opts, async (backend) => {
        const saved = await backend.setBudget(name, { scope: opts.scope, target: opts.target, limit: opts.limit, window: opts.window, timezone: opts.timezone, warnAt: opts.warnAt });
        print(opts.json ? saved : `${printBudgets([saved])}\nWritten through ${backend.via}.`);
      }),
    );
  deleteCommand(budgets, "remove a budget; audited (its past windows stay)", "budget", (backend, name) => backend.deleteBudget(name));
}

/** `<group> list`: what the backend reads, as JSON or as the group's table. */
function listCommand<T>(group: Command, description: string, read: (backend: AdminBackend) => Promise<T[]>, show: (list: T[]) => string): void {
  withConnection(group.command("list").description(description)).action((opts: ConnectOptions & { json?: boolean }) =>
    withBackend(opts, async (backend) => {
      const list = await read(backend);
      print(opts.json ? list : show(list));
    }),
  );
}

/** `<group> delete <name>`: removes one, and says so. */
function deleteCommand(group: Command, description: string, noun: string, remove: (backend: AdminBackend, name: string) => Promise<unknown>): void {
  withConnection(group.command("delete").description(description).argument("<name>")).action((name: string, opts: ConnectOptions & { json?: boolean }) =>
    withBackend(opts, async (backend) => {
      await remove(backend, name);
      print(opts.json ? { name, deleted: true } : `Deleted ${noun} ${name}.`);
    }),
  );
}
