import { describe, expect, it } from "vitest";
import { AirlockError, ERROR_STATUS, type ErrorCode } from "./errors.js";

describe("AirlockError", () => {
  it("is retryable for a limit that frees up soon or a guard that could not answer, and for nothing Airlock already retried", () => {
    const retryable = (Object.keys(ERROR_STATUS) as ErrorCode[]).filter((code) => new AirlockError(code, "x").isRetryable);
    expect(retryable.sort()).toEqual(["rate_limited", "unavailable"]);
  });

  it("keeps isRetryable out of the OpenAI error body", () => {
    const body = new AirlockError("rate_limited", "slow down", { retryAfterSeconds: 3 }).toJSON();
    expect(body).toEqual({ error: { message: "slow down", type: "rate_limit_error", code: "rate_limited", param: null } });
    expect(JSON.stringify(new AirlockError("rate_limited", "slow down"))).not.toContain("isRetryable");
  });

  it("answers a move that the resource's current status does not allow with 409, in the OpenAI shape, not to be retried as it is", () => {
    const err = new AirlockError("conflict", 'directive "dir_1" is aborted', { details: { status: "aborted" } });
    expect(err.status).toBe(409);
    expect(err.isRetryable).toBe(false);
    expect(err.toJSON()).toEqual({ error: { message: 'directive "dir_1" is aborted', type: "invalid_request_error", code: "conflict", param: null, status: "aborted" } });
  });

  it("answers an idempotency key sent again with another body with 422, as the IETF Idempotency-Key draft asks", () => {
    const err = new AirlockError("idempotency_key_reused", "used for another directive", { param: "Idempotency-Key" });
    expect(err.status).toBe(422);
    expect(err.isRetryable).toBe(false);
    expect(err.toJSON().error).toMatchObject({ type: "invalid_request_error", code: "idempotency_key_reused", param: "Idempotency-Key" });
  });
});
