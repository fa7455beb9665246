import { describe, expect, it } from "vitest";
import { parseRetryAfterMs, providerErrorFromResponse } from "./errors.js";

const NOW = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");

describe("parseRetryAfterMs", () => {
  it("prefers retry-after-ms, then retry-after in seconds", () => {
    expect(parseRetryAfterMs({ "retry-after-ms": "250", "retry-after": "120" }, NOW)).toBe(250);
    expect(parseRetryAfterMs({ "retry-after": "2" }, NOW)).toBe(2000);
    expect(parseRetryAfterMs({ "retry-after": "1.5" }, NOW)).toBe(1500);
  });

  it("reads the HTTP-date forms RFC 9110 lists", () => {
    expect(parseRetryAfterMs({ "retry-after": "Wed, 21 Oct 2015 07:28:30 GMT" }, NOW)).toBe(30_000);
    expect(parseRetryAfterMs({ "retry-after": "Wednesday, 21-Oct-15 07:28:10 GMT" }, NOW)).toBe(10_000);
    expect(parseRetryAfterMs({ "retry-after": "Wed Oct 21 07:28:05 2015" }, NOW)).toBe(5_000);
    expect(parseRetryAfterMs({ "retry-after": "Wed, 21 Oct 2015 07:00:00 GMT" }, NOW)).toBe(0);
  });

  it("takes the first of two merged headers instead of reading them as a date", () => {
    expect(parseRetryAfterMs({ "retry-after": "1, 2" }, NOW)).toBe(1000);
    expect(parseRetryAfterMs({ "retry-after": ["3", "4"] }, NOW)).toBe(3000);
  });

  it("ignores values that are neither, so the backoff applies instead of an instant retry", () => {
    expect(parseRetryAfterMs({ "retry-after": "soon" }, NOW)).toBeUndefined();
    expect(parseRetryAfterMs({ "retry-after": "-5" }, NOW)).toBeUndefined();
    expect(parseRetryAfterMs({ "retry-after": "2015" }, NOW)).toBe(2_015_000);
    expect(parseRetryAfterMs({ "retry-after": "June 2001" }, NOW)).toBeUndefined();
  });
});

describe("providerErrorFromResponse", () => {
  it("marks model-missing and overloaded answers as worth a fallback but not a retry", () => {
    const missing = providerErrorFromResponse("openai", 404, {}, JSON.stringify({ error: { message: "The model `gpt-9` does not exist", code: "model_not_found" } }));
    expect(missing).toMatchObject({ isRetryable: false, fallbackable: true, providerCode: "model_not_found" });
    const plain400 = providerErrorFromResponse("openai", 400, {}, JSON.stringify({ error: { message: "Invalid value for 'temperature'" } }));
    expect(plain400).toMatchObject({ isRetryable: false, fallbackable: false });
  });

  it("reads OpenAI's 403 for a project without access to the model as a missing model, not a refused key", () => {
    const body = { error: { message: "Project `proj_JMo3Q9spNIEWhSxusokLegJY` does not have access to model `gpt-4.1-2025-04-14`", type: "invalid_request_error", param: null, code: "model_not_found" } };
    expect(providerErrorFromResponse("openai", 403, {}, JSON.stringify(body))).toMatchObject({ isRetryable: false, fallbackable: true, credentialsRefused: false });
    // The same words without the code, as an OpenAI-compatible server may send them.
    const { code: _code, ...uncoded } = body.error;
    expect(providerErrorFromResponse("openai", 403, {}, JSON.stringify({ error: uncoded }))).toMatchObject({ fallbackable: true, credentialsRefused: false });
    const region = { error: { message: "Country, region, or territory not supported", type: "request_forbidden", param: null, code: "unsupported_country_region_territory" } };
    // Refused for this provider's account, not for the request: another provider may serve the call.
    expect(providerErrorFromResponse("openai", 403, {}, JSON.stringify(region))).toMatchObject({ isRetryable: false, fallbackable: true, credentialsRefused: true });
  });

  it("reads a request over the model's context window as worth a fallback to a bigger model, never a retry", () => {
    const tooLong = (status: number, body: unknown) => providerErrorFromResponse("p", status, {}, JSON.stringify(body));
    const gemini = { error: { code: 400, message: "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).", status: "INVALID_ARGUMENT" } };
    const vllm = { object: "error", message: "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens.", type: "BadRequestError", code: 400 };
    for (const e of [tooLong(400, gemini), tooLong(400, vllm), tooLong(400, { error: { message: "x", code: "context_length_exceeded" } }), tooLong(413, {})]) {
      expect(e).toMatchObject({ isRetryable: false, fallbackable: true, contextTooLong: true, credentialsRefused: false });
    }
    expect(tooLong(400, { error: { message: "Invalid value for 'temperature'" } })).toMatchObject({ fallbackable: false, contextTooLong: false });
  });

  it("reads OpenAI's 429 insufficient_quota as an account out of credit: worth a fallback, never a wait and a retry", () => {
    // OpenAI's body for an account with no credit left, as it sends it.
    const body = { error: { message: "You exceeded your current quota, please check your plan and billing details.", type: "insufficient_quota", param: null, code: "insufficient_quota" } };
    const outOfCredit = providerErrorFromResponse("openai", 429, {}, JSON.stringify(body));
    expect(outOfCredit).toMatchObject({ isRetryable: false, fallbackable: true, credentialsRefused: false });
    const rateLimited = providerErrorFromResponse("openai", 429, { "retry-after-ms": "200" }, JSON.stringify({ error: { message: "Rate limit reached", code: "rate_limit_exceeded" } }));
    expect(rateLimited).toMatchObject({ isRetryable: true });
  });
});
