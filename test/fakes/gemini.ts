import type { OutgoingHttpHeaders } from "node:http";

/**
 * The Gemini API's side of the fake upstream (test/fakes/upstream.ts): its URL scheme, its SSE framing
 * (`data: {GenerateContentResponse}` followed by CRLF CRLF, no end marker), its headers and Google's
 * error bodies. Recorded payloads live in test/fixtures/gemini/.
 */

const METHOD = /^\/v1beta\/models\/[^/:]+:(generateContent|streamGenerateContent|batchEmbedContents)$/;

/** Which fake route a Gemini path is; both generate methods are `chat` (the path, not the body, says streamed). */
export function geminiRoute(method: string | undefined, pathname: string): "chat" | "embeddings" | undefined {
  const match = method === "POST" ? METHOD.exec(pathname) : null;
  if (match === null) return undefined;
  return match[1] === "batchEmbedContents" ? "embeddings" : "chat";
}

/** The adapter always asks for `alt=sse`; without it Google would stream a JSON array, which the fake does not speak. */
export function isGeminiStream(path: string): boolean {
  return path.includes(":streamGenerateContent");
}

/**
 * The recorded events, each with its CRLF CRLF terminator. Google repeats usageMetadata on every event;
 * for `noUsage` it is removed from all of them. `content` replaces the answer text: all of it in the
 * first text part, later text parts emptied (thought parts are left alone).
 */
export function geminiStreamEvents(text: string, withUsage: boolean, content?: string): string[] {
  let placed = false;
  return text
    .split("\r\n\r\n")
    .filter((e) => e.trim().length > 0)
    .map((event) => {
      if (!event.startsWith("data: ")) return `${event}\r\n\r\n`;
      const payload = JSON.parse(event.slice(6));
      if (!withUsage) delete payload.usageMetadata;
      if (content !== undefined) {
        for (const part of answerParts(payload)) {
          part.text = placed ? "" : content;
          placed = true;
        }
      }
      return `data: ${JSON.stringify(payload)}\r\n\r\n`;
    });
}

/** A generateContent answer, with its text replaced by `content` and/or its usage dropped. */
export function geminiJson(payload: string, content: string | undefined, dropUsage: boolean): string {
  if (content === undefined && !dropUsage) return payload;
  const parsed = JSON.parse(payload);
  if (dropUsage) delete parsed.usageMetadata;
  if (content !== undefined) {
    const parts = parsed.candidates[0].content.parts as Array<Record<string, unknown>>;
    parsed.candidates[0].content.parts = [...parts.filter((p) => p.thought === true), { text: content }];
  }
  return JSON.stringify(parsed);
}

/** What a `cut` counts: events carrying answer text or a function call, the ones the adapter turns into chunks. */
export function isGeminiCounted(event: string): boolean {
  if (!event.startsWith("data: ")) return false;
  const payload = JSON.parse(event.slice(6));
  const parts: Array<Record<string, unknown>> = payload.candidates?.[0]?.content?.parts ?? [];
  return parts.some((p) => p.functionCall !== undefined || (p.thought !== true && typeof p.text === "string" && p.text !== ""));
}

function answerParts(payload: any): Array<Record<string, unknown>> {
  const parts: Array<Record<string, unknown>> = payload.candidates?.[0]?.content?.parts ?? [];
  return parts.filter((p) => p.thought !== true && typeof p.text === "string");
}

export function geminiHeaders(): OutgoingHttpHeaders {
  return {
    vary: "Origin, X-Origin, Referer",
    server: "scaffolding on HTTPServer2",
    "x-xss-protection": "0",
    "x-frame-options": "SAMEORIGIN",
    "x-content-type-options": "nosniff",
    "server-timing": "gfet4t7; dur=612",
    "alt-svc": 'h3=":443"; ma=2592000,h3-29=":443"; ma=2592000',
  };
}

const HELP = { "@type": "type.googleapis.com/google.rpc.Help", links: [{ description: "Learn more about Gemini API quotas", url: "https://ai.google.dev/gemini-api/docs/rate-limits" }] };

/** Google's real answers per status: google.rpc.Status as JSON. A 429 says when to retry in RetryInfo, not in a header. */
const GEMINI_ERRORS: Record<number, { message: string; status: string; details?: unknown[] }> = {
  400: {
    message: "Invalid JSON payload received. Unknown name \"top_k\" at 'generation_config': Cannot find field.",
    status: "INVALID_ARGUMENT",
    details: [{ "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field: "generation_config", description: "Invalid JSON payload received. Unknown name \"top_k\" at 'generation_config': Cannot find field." }] }],
  },
  401: { message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.", status: "UNAUTHENTICATED" },
  403: { message: "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.", status: "PERMISSION_DENIED" },
  404: {
    message: "models/gemini-9-pro is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.",
    status: "NOT_FOUND",
  },
  429: {
    message: "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
    status: "RESOURCE_EXHAUSTED",
    details: [
      {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        violations: [{ quotaMetric: "generativelanguage.googleapis.com/generate_content_paid_tier_input_token_count", quotaId: "GenerateContentPaidTierInputTokensPerModelPerMinute", quotaDimensions: { location: "global", model: "gemini-2.5-flash" }, quotaValue: "1000000" }],
      },
      HELP,
      { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "30s" },
    ],
  },
  500: { message: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting", status: "INTERNAL" },
  503: { message: "The model is overloaded. Please try again later.", status: "UNAVAILABLE" },
  504: { message: "The request timed out. Please try again.", status: "DEADLINE_EXCEEDED" },
};

export function geminiErrorBody(status: number): unknown {
  const known = GEMINI_ERRORS[status] ?? { message: `Error ${status}`, status: status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT" };
  return { error: { code: status, ...known } };
}

/** An unknown path (wrong method or API version). */
export const GEMINI_NOT_FOUND = { error: { code: 404, message: "Method not found.", status: "NOT_FOUND" } };
