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

/** `<prefix>_` + 128 random bits in hex, e.g. `call_3f9a…`. */
export function newId(prefix: string): string {
  return `${prefix}_${take(16).toString("hex")}`;
}

/** A W3C trace id (32 hex chars, never all zero) for calls that arrive without a tracing context. */
export function traceId(): string {
  const id = take(16).toString("hex");
  return id === "00000000000000000000000000000000" ? traceId() : id;
}
