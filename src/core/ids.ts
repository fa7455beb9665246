import { randomFillSync } from "node:crypto";

/**
 * Random ids for every call. Asking the CSPRNG for 12 or 16 bytes at a time costs a native call
 * each (profiling put it at several percent of the gateway's CPU), so bytes come from a pool that is
 * refilled 4 KiB at a time. Every byte is used once.
 */
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

function take(bytes: number): Buffer {
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const slice = pool.subarray(offset, offset + bytes);
  offset += bytes;
  return slice;
}

/** `req_` + 96 random bits. */
export function requestId(): string {
  return "req_" + take(12).toString("base64url");
}

/**
 * `<prefix>_` + 32 hex digits: the creation time in milliseconds (48 bits, as in a UUIDv7), then 80
 * random bits, e.g. `call_019ad3c4f2a1…`. Ids made later sort later, so a table keyed by them grows at
 * one end of its primary-key index: a random key lands on any page of it, and once the ledger's index
 * outgrows the database's buffers every insert touches a page of its own (measured on PostgreSQL with
 * 3 million rows: 34.5 µs a row with random ids, 25.5 with these; docs/performance-findings.md#time-ordered-row-ids).
 */
export function newId(prefix: string): string {
  return `${prefix}_${millisHex(Date.now())}${take(10).toString("hex")}`;
}

let lastMillis = -1;
let lastMillisHex = "";

/** The time part, formatted once per millisecond: most ids under load share it, and formatting one costs about 0.3 µs. */
function millisHex(ms: number): string {
  if (ms !== lastMillis) {
    lastMillis = ms;
    lastMillisHex = ms.toString(16).padStart(12, "0");
  }
  return lastMillisHex;
}

/** A W3C trace id (32 hex chars, never all zero) for calls that arrive without a tracing context. */
export function traceId(): string {
  const id = take(16).toString("hex");
  return id === "00000000000000000000000000000000" ? traceId() : id;
}
