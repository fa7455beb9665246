import { randomBytes, randomUUID } from "node:crypto";

/** Time-ordered enough for humans to read, unique enough for ledgers: `req_` + random. */
export function requestId(): string {
  return "req_" + randomBytes(12).toString("base64url");
}

export function newId(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll("-", "")}`;
}

/** A W3C trace id (32 hex chars) for calls that arrive without a tracing context. */
export function traceId(): string {
  return randomBytes(16).toString("hex");
}
