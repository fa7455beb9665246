import type { Command } from "commander";
import type { ConnectOptions } from "./admin-client.js";
import { print, withBackend, withConnection } from "./command-kit.js";
import { printBudgets, printRateLimits } from "./print.js";

/** `airlock rate-limits` and `airlock budgets`: the guards an admin sets while gateways run. */
export function registerGuardCommands(program: Command): void {
  const rateLimits = program.command("rate-limits").description("requests and tokens per minute; a limit set here stands over restarts, on every instance");
  withConnection(rateLimits.command("list").description("the limits in force, and whether the file or an admin set each")).action((opts: ConnectOptions & { json?: boolean }) =>
    withBackend(opts, async (backend) => {
      const list = await backend.rateLimits();
      print(opts.json ? list : printRateLimits(list));
    }),
  );
  withConnection(rateLimits.command("set").description("create or replace a limit; audited").argument("<name>"))
    .requiredOption("--scope <scope>", "key, user, operation or global")
    .option("--target <id>", "one key id, user id or operation name (default: each its own)")
    .option("--rpm <n>", "requests per minute", Number)
    .option("--tpm <n>", "input plus output tokens per minute", Number)
    .action((name: string, opts: ConnectOptions & { scope: string; target?: string; rpm?: number; tpm?: number; json?: boolean }) =>
      withBackend(opts, async (backend) => {
        const saved = await backend.setRateLimit(name, { scope: opts.scope, target: opts.target, requestsPerMinute: opts.rpm, tokensPerMinute: opts.tpm });
        print(opts.json ? saved : `${printRateLimits([saved])}\nWritten through ${backend.via}.`);
      }),
    );
  withConnection(rateLimits.command("delete").description("remove a limit; audited").argument("<name>")).action((name: string, opts: ConnectOptions & { json?: boolean }) =>
    withBackend(opts, async (backend) => {
      await backend.deleteRateLimit(name);
      print(opts.json ? { name, deleted: true } : `Deleted rate limit ${name}.`);
    }),
  );

  const budgets = program.command("budgets").description("spending limits per daily or monthly window; a budget set here stands over restarts, on every instance");
  withConnection(budgets.command("list").description("every budget, its current window's spend against its limit, and whether the file or an admin set it")).action((opts: ConnectOptions & { json?: boolean }) =>
    withBackend(opts, async (backend) => {
      const list = await backend.budgets();
      print(opts.json ? list : printBudgets(list));
    }),
  );
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
  withConnection(budgets.command("delete").description("remove a budget; audited (its past windows stay)").argument("<name>")).action((name: string, opts: ConnectOptions & { json?: boolean }) =>
    withBackend(opts, async (backend) => {
      await backend.deleteBudget(name);
      print(opts.json ? { name, deleted: true } : `Deleted budget ${name}.`);
    }),
  );
}
