import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A webhook receiver on loopback: records what it gets, and answers with `status`, or never (`hang`). */
export interface Receiver {
  url: string;
  received: Array<{ path: string; headers: IncomingMessage["headers"]; body: string; json: any }>;
  /** What it answers from now on (a receiver that was down and is fixed). */
  answerWith?(answer: number | "hang"): void;
  close(): Promise<void>;
}

export async function startReceiver(answer: number | "hang" = 200, headers: Record<string, string> = {}): Promise<Receiver> {
  const received: Receiver["received"] = [];
  const held: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      received.push({ path: req.url ?? "/", headers: req.headers, body, json: JSON.parse(body) });
      if (answer === "hang") held.push(res);
      else res.writeHead(answer, headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    answerWith: (next) => {
      answer = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function until<T>(read: () => T, done: (value: T) => boolean, giveUpMs = 8_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = read();
    if (done(value)) return value;
    if (Date.now() - started > giveUpMs) throw new Error(`not within ${giveUpMs} ms: ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
