import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { attempt } from "./webhook-attempt.js";

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A receiver that checks a request as docs/change-control.md tells one to: the v2 signature over
 * `<timestamp>.<event id>.<body>`, a timestamp at most 5 minutes from its own clock, and each event id once.
 */
function verifier(secret: string) {
  const seen = new Set<string>();
  return (req: Received): "accepted" | "bad signature" | "too old" | "duplicate" => {
    const timestamp = String(req.headers["x-airlock-timestamp"]);
    const eventId = String(req.headers["x-airlock-event-id"]);
    const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(`${timestamp}.${eventId}.${req.body}`).digest("hex")}`);
    const given = Buffer.from(String(req.headers["x-airlock-signature-v2"]));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return "bad signature";
    if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return "too old";
    if (seen.has(eventId)) return "duplicate";
    seen.add(eventId);
    return "accepted";
  };
}

describe("a webhook attempt's signatures", () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  async function receive(): Promise<{ url: string; received: Received[] }> {
    const received: Received[] = [];
    server = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      req.on("end", () => {
        received.push({ headers: req.headers, body });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
  }

  it("sign when the attempt was made and the event's id, so a receiver can refuse a replayed request", async () => {
    const { url, received } = await receive();
    const hook = { name: "ops", url, secret: "whsec-v2", format: "slack" as const };
    const delivery = { id: "dlv_1", eventId: "evt_1", event: "kill_switch.flipped", body: { text: "Airlock: kill switch ON" } };
    expect(await attempt(hook, delivery, 5_000, new AbortController().signal)).toEqual({ status: 200 });
    const [request] = received;
    const verify = verifier("whsec-v2");
    expect(verify(request!)).toBe("accepted");
    // The same request again, as a replayer sends it: refused as a duplicate, and under another event id its signature fails.
    expect(verify(request!)).toBe("duplicate");
    expect(verify({ ...request!, headers: { ...request!.headers, "x-airlock-event-id": "evt_2" } })).toBe("bad signature");
    // Under a newer timestamp, so that it passes the age check, its signature fails too; past the 5 minutes, it is too old.
    const later = String(Number(request!.headers["x-airlock-timestamp"]) + 600);
    expect(verify({ ...request!, headers: { ...request!.headers, "x-airlock-timestamp": later } })).toBe("bad signature");
    const fresh = verifier("whsec-v2");
    const agedSignature = `sha256=${createHmac("sha256", "whsec-v2").update(`1000000000.evt_1.${request!.body}`).digest("hex")}`;
    expect(fresh({ ...request!, headers: { ...request!.headers, "x-airlock-timestamp": "1000000000", "x-airlock-signature-v2": agedSignature } })).toBe("too old");
    // The body's own signature is still sent, for receivers that check it.
    expect(request!.headers["x-airlock-signature"]).toBe(`sha256=${createHmac("sha256", "whsec-v2").update(request!.body).digest("hex")}`);
  });

  it("sends no signature and no timestamp for a webhook without a secret", async () => {
    const { url, received } = await receive();
    await attempt({ name: "chat", url, format: "json" }, { id: "dlv_2", eventId: "evt_2", event: "budget.warning", body: {} }, 5_000, new AbortController().signal);
    expect(Object.keys(received[0]!.headers).filter((name) => name.includes("signature") || name === "x-airlock-timestamp")).toEqual([]);
  });
});
