import { createServer } from "node:net";
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

/**
 * The Fetch standard's "bad ports": browsers and every client built on `fetch` (Node's, the CLI's, the
 * openai SDK's) refuse them before they connect, while curl and the store do not. A gateway there
 * answers curl and nothing else, so its start says so (https://fetch.spec.whatwg.org/#port-blocking).
 */
const PORTS_FETCH_REFUSES = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117,
  119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636,
  989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

export function fetchRefusesPort(port: number): boolean {
  return PORTS_FETCH_REFUSES.has(port);
}

/** Logged once the gateway listens, so that the operator hears it before a client fails. */
export function warnIfFetchRefusesPort(logger: Logger, port: number): void {
  if (!fetchRefusesPort(port)) return;
  logger.warn(
    { port },
    `port ${port} is one that browsers and fetch refuse to connect to (the Fetch standard's bad ports): the dashboard, the airlock CLI and SDKs built on fetch cannot reach this gateway; choose another port with --port, PORT or server.port`,
  );
}
