import type { OutgoingHttpHeaders } from "node:http";
import { GEMINI_NOT_FOUND, geminiErrorBody, geminiHeaders } from "./gemini.js";
import type { FakeFlavor } from "./upstream.js";

/** What each provider's real answers carry besides their payloads: headers, error bodies, the model list. */

export function baseHeaders(flavor: FakeFlavor, requestId: string): OutgoingHttpHeaders {
  if (flavor === "gemini") return geminiHeaders();
  if (flavor === "anthropic") {
    return { "request-id": requestId, "anthropic-organization-id": "8c5f2b1e-6a3d-4f9e-b7c2-1d0e9a8b7c6d", via: "1.1 google" };
  }
  return {
    "x-request-id": requestId,
    "openai-version": "2020-10-01",
    "openai-organization": "user-abc123",
    "openai-processing-ms": "412",
    "x-ratelimit-limit-requests": "5000",
    "x-ratelimit-remaining-requests": "4999",
    "x-ratelimit-reset-requests": "12ms",
    "x-ratelimit-limit-tokens": "4000000",
    "x-ratelimit-remaining-tokens": "3998157",
    "x-ratelimit-reset-tokens": "27ms",
  };
}

export function errorHeadersFor(flavor: FakeFlavor, status: number): OutgoingHttpHeaders {
  if (flavor === "gemini") return {}; // Google says when to retry in the body's RetryInfo
  if (status === 429 && flavor === "openai") {
    return { "retry-after": "1", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s" };
  }
  if (status === 429) {
    return {
      "retry-after": "7",
      "anthropic-ratelimit-requests-limit": "50",
      "anthropic-ratelimit-requests-remaining": "0",
      "anthropic-ratelimit-requests-reset": new Date(Date.now() + 7000).toISOString().replace(/\.\d+Z$/, "Z"),
      "x-should-retry": "true",
    };
  }
  if (flavor === "anthropic" && (status >= 500 || status === 408 || status === 409)) return { "x-should-retry": "true" };
  return {};
}

const OPENAI_ERRORS: Record<number, { message: string; type: string; param: string | null; code: string | null }> = {
  400: { message: "Invalid value for 'temperature': expected a number between 0 and 2.", type: "invalid_request_error", param: "temperature", code: "invalid_value" },
  401: { message: "Incorrect API key provided: sk-proj-********************wxyz. You can find your API key at https://platform.openai.com/account/api-keys.", type: "invalid_request_error", param: null, code: "invalid_api_key" },
  403: { message: "Project `proj_abc123` does not have access to this resource.", type: "invalid_request_error", param: null, code: null },
  404: { message: "The model `gpt-9-turbo` does not exist or you do not have access to it.", type: "invalid_request_error", param: null, code: "model_not_found" },
  429: { message: "Rate limit reached for o4-mini in organization org-abc123 on requests per min (RPM): Limit 5000, Used 5000, Requested 1. Please try again in 12ms. Visit https://platform.openai.com/account/rate-limits to learn more.", type: "requests", param: null, code: "rate_limit_exceeded" },
  500: { message: "The server had an error while processing your request. Sorry about that!", type: "server_error", param: null, code: null },
  502: { message: "Bad gateway.", type: "server_error", param: null, code: null },
  503: { message: "The server is temporarily unable to handle your request. Please try again later.", type: "server_error", param: null, code: null },
};

const ANTHROPIC_ERRORS: Record<number, { type: string; message: string }> = {
  400: { type: "invalid_request_error", message: "max_tokens: Input should be greater than or equal to 1" },
  401: { type: "authentication_error", message: "invalid x-api-key" },
  403: { type: "permission_error", message: "Your API key does not have permission to use the specified resource." },
  404: { type: "not_found_error", message: "model: claude-sonnet-9" },
  413: { type: "request_too_large", message: "Request exceeds the maximum allowed number of bytes." },
  429: { type: "rate_limit_error", message: "This request would exceed the rate limit for your organization of 50 requests per minute." },
  500: { type: "api_error", message: "Internal server error" },
  503: { type: "api_error", message: "Service unavailable" },
  529: { type: "overloaded_error", message: "Overloaded" },
};

/** The provider's real error JSON for a status. */
export function errorBodyFor(flavor: FakeFlavor, status: number): unknown {
  if (flavor === "gemini") return geminiErrorBody(status);
  if (flavor === "anthropic") {
    const error = ANTHROPIC_ERRORS[status] ?? { type: status >= 500 ? "api_error" : "invalid_request_error", message: `Error ${status}` };
    return { type: "error", error, request_id: "req_011CSHoEeqs5C35K2UUqR7Fy" };
  }
  const error = OPENAI_ERRORS[status] ?? { message: `Error ${status}`, type: status >= 500 ? "server_error" : "invalid_request_error", param: null, code: null };
  return { error };
}

export function notFoundBody(flavor: FakeFlavor): unknown {
  if (flavor === "gemini") return GEMINI_NOT_FOUND;
  if (flavor === "anthropic") return { type: "error", error: { type: "not_found_error", message: "Not Found" } };
  return { error: { message: "Invalid URL", type: "invalid_request_error", param: null, code: null } };
}

export const MODELS = {
  object: "list",
  data: [
    { id: "o4-mini-2025-04-16", object: "model", created: 1744225308, owned_by: "system" },
    { id: "text-embedding-3-small", object: "model", created: 1705948997, owned_by: "system" },
  ],
};
