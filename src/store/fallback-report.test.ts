import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { freshStore, STORE_KINDS, type TestStore } from "../../test/support/stores.js";
import { fallbacksBy, insertLedgerRows } from "./queries/ledger.js";
import type { LedgerAttempt, NewLedgerRow } from "./schema/ledger.js";

const AT = Date.parse("2026-11-20T10:00:00Z");

const failed = (model: string, reason: string, delayMs = 0): LedgerAttempt => ({ model, provider: model.split("/")[0]!, outcome: "error", reason, latencyMs: reason === "circuit_open" ? 0 : 5, delayMs });
const answered = (model: string, delayMs = 0): LedgerAttempt => ({ model, provider: model.split("/")[0]!, outcome: "success", latencyMs: 5, delayMs });

function row(i: number, model: string, attempts: LedgerAttempt[], fallbacks: number): NewLedgerRow {
  return {
    id: `call_${i}`,
    ts: new Date(AT + i * 1_000),
    requestId: `req_${i}`,
    endpoint: "chat",
    cost: "0",
    outcome: "success",
    httpStatus: 200,
    operation: "chat",
    model,
    provider: model.split("/")[0]!,
    keyId: "key_1",
    latencyMs: 20,
    inputTokens: 0,
    outputTokens: 0,
    attempts,
    attemptCount: attempts.length,
    fallbacks,
  };
}

describe.each(STORE_KINDS)("the fallback report's retries on %s", (kind) => {
  let store: TestStore;
  beforeEach(async () => {
    store = await freshStore(kind);
  });
  afterEach(async () => {
    await store.cleanup();
  });

  it("counts the requests repeated on a model, not a retry its circuit breaker stopped, nor a schema repair", async () => {
    await insertLedgerRows(store.database, [
      // A 429, then the retry found the primary's breaker open: no second request was sent to it.
      row(1, "b/m", [failed("a/m", "rate_limited"), failed("a/m", "circuit_open", 1_500), answered("b/m")], 1),
      // A real retry on the primary, then the fallback.
      row(2, "b/m", [failed("a/m", "server_error"), failed("a/m", "server_error", 120), answered("b/m")], 1),
      // The primary skipped outright, and a schema repair after the answer.
      row(3, "b/m", [failed("a/m", "circuit_open"), answered("b/m"), { ...answered("b/m"), purpose: "repair" }], 1),
    ]);
    const lines = await fallbacksBy(store.database.db, new Date(AT));
    expect(lines).toEqual([
      {
        operation: "chat",
        model: "b/m",
        calls: 3,
        fellBack: 3,
        errors: 0,
        retries: 1,
        reasons: { rate_limited: 1, circuit_open: 2, server_error: 2 },
      },
    ]);
  });
});
