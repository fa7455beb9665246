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
});
