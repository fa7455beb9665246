import { createServer, connect, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { openDatabase, type Database } from "../../src/store/database.js";

/** A loopback TCP proxy to a real server that a test can cut and restore, to stage an outage. */
export interface TcpProxy {
  port: number;
  /** Drops every connection and refuses new ones until `restore`. */
  cut(): void;
  /**
   * The next request whose bytes contain `marker` reaches the server, but its connection is dropped
   * before any answer comes back: the server acts on it, and the client never learns that it did.
   */
  dropAnswerTo(marker: string): void;
  /**
   * The connections open now stop carrying bytes either way, yet stay open, as when the far end is gone
   * without a reset (a failover, a dropped NAT entry); connections made later work.
   */
  stall(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const stalled = new WeakSet<Socket>();
  let open = true;
  let dropMarker: string | undefined;
  const server = createServer((client) => {
    if (!open) return client.destroy();
    const upstream = connect(targetPort, targetHost);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => undefined);
    }
    let dropping = false;
    client.on("data", (bytes: Buffer) => {
      if (dropMarker !== undefined && bytes.includes(dropMarker)) {
        dropMarker = undefined;
        dropping = true;
      }
      if (!stalled.has(client)) upstream.write(bytes);
    });
    upstream.on("data", (bytes: Buffer) => {
      if (stalled.has(client)) return;
      if (dropping) client.destroy();
      else client.write(bytes);
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut: () => {
      open = false;
      for (const socket of sockets) socket.destroy();
    },
    restore: () => {
      open = true;
    },
    dropAnswerTo: (marker) => {
      dropMarker = marker;
    },
    stall: () => {
      for (const socket of sockets) stalled.add(socket);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A PostgreSQL store reached through a proxy that the test can cut, to stage an outage. */
export async function databaseBehindProxy(url: string, options: { statementDeadlineMs?: number } = {}): Promise<{ database: Database; proxy: TcpProxy; close(): Promise<void> }> {
  const target = new URL(url);
  const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
  const viaProxy = new URL(target.href);
  viaProxy.host = `127.0.0.1:${proxy.port}`;
  const database = await openDatabase({ url: viaProxy.href, maxConnections: 4, ...options });
  return {
    database,
    proxy,
    close: async () => {
      await database.close();
      await proxy.close();
    },
  };
}
