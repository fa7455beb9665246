import { Option, type Command } from "commander";
import type { ConnectOptions } from "./admin-client.js";
import { print, wholeNumber, withBackend, withConnection } from "./command-kit.js";
import { printDeliveries, printResent } from "./print.js";

const STATUSES = ["pending", "delivered", "failed"] as const;

/** `airlock webhooks`: the deliveries of the webhooks in the gateways' files, and resending a failed one. */
export function registerWebhookCommands(program: Command): void {
  const webhooks = program.command("webhooks").description("webhook deliveries: what was sent, what failed, and resending it");
  withConnection(webhooks.command("deliveries").description("deliveries, newest first, with their attempts and last error"))
    .addOption(new Option("--status <status>", "only those with this status (default: all)").choices([...STATUSES]))
    .option("--webhook <name>", "only this webhook's")
    .option("--limit <n>", "at most this many (1 to 1000)", wholeNumber("--limit", 1, 1000), 50)
    .option("--cursor <cursor>", "the next page: the cursor the page before printed")
    .action((opts: ConnectOptions & { status?: (typeof STATUSES)[number]; webhook?: string; limit: number; cursor?: string; json?: boolean }) =>
      withBackend(opts, async (backend) => {
        const page = await backend.webhookDeliveries({ status: opts.status, webhook: opts.webhook, limit: opts.limit, cursor: opts.cursor });
        print(opts.json ? page : printDeliveries(page));
      }),
    );
  withConnection(webhooks.command("resend").description("send a failed delivery again, as a new delivery of the same event (same event id); audited").argument("<id>")).action(
    (id: string, opts: ConnectOptions & { json?: boolean }) =>
      withBackend(opts, async (backend) => {
        const resent = await backend.resendDelivery(id);
        print(opts.json ? resent : `${printResent(resent)}\nWritten through ${backend.via}.`);
      }),
  );
}
