import { createServer } from "node:net";
import { fetchRefusesPort } from "../core/http-url.js";
import type { Logger } from "../core/logger.js";

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
    server.once("error", (err: NodeJS.ErrnoException) => reject(new Error(cannotListen(err, port, host))));
    // exclusive: in a cluster worker, a shared listen would ask the primary instead of this host.
    server.listen({ port, host, exclusive: true }, () => resolve());
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** What the operator can do about it, where Node's own message only names the errno. */
function cannotListen(err: NodeJS.ErrnoException, port: number, host: string): string {
  const where = `cannot listen on ${host.includes(":") ? `[${host}]` : host}:${port}`;
  switch (err.code) {
    case "EADDRINUSE":
      return `${where}: the port is already in use (EADDRINUSE); stop what listens there, or choose another port with --port, PORT or server.port`;
    case "EADDRNOTAVAIL":
      return `${where}: ${host} is not an address of this host (EADDRNOTAVAIL); choose another with --host or server.host`;
    case "EACCES":
      return `${where}: permission denied (EACCES); a port below 1024 needs privileges, so choose another with --port, PORT or server.port`;
    default:
      return `${where}: ${err.message}`;
  }
}

/** Logged once the gateway listens, so that the operator hears it before a client fails. */
export function warnIfFetchRefusesPort(logger: Logger, port: number): void {
  if (!fetchRefusesPort(port)) return;
  logger.warn(
    { port },
    `port ${port} is one that browsers and fetch refuse to connect to (the Fetch standard's bad ports): the dashboard, the airlock CLI and SDKs built on fetch cannot reach this gateway; choose another port with --port, PORT or server.port`,
  );
}
