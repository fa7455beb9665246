import { createServer } from "node:net";

/**
 * Binds the gateway's address and lets go of it at once. It runs before the start writes anything to
 * the store: a start seeds its file's routes, prices, budgets and rate limits into a store that other
 * instances read, so one that would fail to listen (the port taken, an address this host does not have)
 * must fail before that, leaving the instances already running as they were. Port 0 always binds.
 */
export async function checkCanListen(port: number, host: string): Promise<void> {
  if (port === 0) return;
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // exclusive: in a cluster worker, a shared listen would ask the primary instead of this host.
    server.listen({ port, host, exclusive: true }, () => resolve());
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
