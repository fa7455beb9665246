/** Small readers for upstream JSON that is trusted in shape but not in every field being present. */

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A token count: a finite non-negative number, else 0 (upstreams send null for "not applicable"). */
export function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 0;
}

export function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
