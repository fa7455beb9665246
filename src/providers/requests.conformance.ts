import type { ChatRequest, EmbedRequest } from "./spec.js";

/** The requests the provider conformance suite (provider.conformance.ts) makes of every adapter. */

export const CONFORMANCE_REQUEST: ChatRequest = {
  model: "test-model",
  messages: [
    { role: "system", content: "You answer geography questions in one sentence." },
    { role: "user", content: "What is the capital of France?" },
  ],
  max_tokens: 64,
};

export const CONFORMANCE_EMBED_REQUEST: EmbedRequest = {
  model: "test-embedding-model",
  input: ["The capital of France is Paris.", "Berlin is in Germany."],
  dimensions: 8,
};

const CAPITAL_TOOL = { type: "function", function: { name: "capital_of", parameters: { type: "object", properties: { country: { type: "string" } } } } };

/**
 * OpenAI request features that not every upstream API has. An adapter either sends each (translated, or
 * as it is) or refuses it; it never drops one silently, which would answer without what was asked for.
 */
export const CONFORMANCE_FEATURES = {
  /** Several choices. */
  n: { ...CONFORMANCE_REQUEST, n: 2 },
  logprobs: { ...CONFORMANCE_REQUEST, logprobs: true, top_logprobs: 2 },
  /** The deprecated function calling: `functions`, an assistant `function_call`, a `function` message. */
  legacyFunctions: {
    ...CONFORMANCE_REQUEST,
    messages: [
      ...CONFORMANCE_REQUEST.messages,
      { role: "assistant", content: null, function_call: { name: "capital_of", arguments: '{"country":"France"}' } },
      { role: "function", name: "capital_of", content: "Paris" },
    ],
    functions: [{ name: "capital_of", parameters: { type: "object", properties: { country: { type: "string" } } } }],
  } as unknown as ChatRequest,
  /** An image by its https URL, which the upstream fetches. */
  imageUrl: {
    ...CONFORMANCE_REQUEST,
    messages: [
      ...CONFORMANCE_REQUEST.messages,
      { role: "user", content: [{ type: "text", text: "And where is this?" }, { type: "image_url", image_url: { url: "https://upload.wikimedia.org/wikipedia/commons/a/a8/Tour_Eiffel_Wikimedia_Commons.jpg" } }] },
    ],
  },
  /** A PDF sent inline as an OpenAI `file` part (a base64 data: URL). */
  pdfFile: {
    ...CONFORMANCE_REQUEST,
    messages: [
      ...CONFORMANCE_REQUEST.messages,
      { role: "user", content: [{ type: "text", text: "And in this report?" }, { type: "file", file: { filename: "report.pdf", file_data: "data:application/pdf;base64,JVBERi0xLjQK" } }] },
    ],
  } as unknown as ChatRequest,
  /** Speech sent as an OpenAI `input_audio` part. */
  inputAudio: {
    ...CONFORMANCE_REQUEST,
    messages: [...CONFORMANCE_REQUEST.messages, { role: "user", content: [{ type: "input_audio", input_audio: { data: "UklGRiQAAABXQVZF", format: "wav" } }] }],
  } as unknown as ChatRequest,
  /** A sampling seed, for answers that repeat. */
  seed: { ...CONFORMANCE_REQUEST, seed: 7 },
  /** Repetition penalties that are not 0. */
  penalties: { ...CONFORMANCE_REQUEST, presence_penalty: 0.5, frequency_penalty: 0.5 },
  logitBias: { ...CONFORMANCE_REQUEST, logit_bias: { "50256": -100 } },
  /** An answer spoken as well as written. */
  audioOutput: { ...CONFORMANCE_REQUEST, modalities: ["text", "audio"], audio: { voice: "alloy", format: "wav" } },
  /** A stop at a line end, as completion-style clients send it. */
  whitespaceStop: { ...CONFORMANCE_REQUEST, stop: ["\n"] },
  /** Thinking before answering, with room for it: Claude's least thinking budget is 1024 tokens, under max_tokens. */
  reasoningEffort: { ...CONFORMANCE_REQUEST, max_tokens: 2048, reasoning_effort: "low" },
  /** At most one tool call per answer. */
  singleToolCall: { ...CONFORMANCE_REQUEST, tools: [CAPITAL_TOOL], parallel_tool_calls: false },
  /**
   * Values that ask for nothing, as clients such as LangChain send them on every call: every adapter
   * must take them ("sent"), never refuse them.
   */
  neutralValues: {
    ...CONFORMANCE_REQUEST,
    presence_penalty: 0,
    frequency_penalty: 0,
    n: 1,
    logprobs: false,
    top_logprobs: 0,
    logit_bias: {},
    modalities: ["text"],
    tools: [CAPITAL_TOOL],
    parallel_tool_calls: true,
  },
  /** Only the `function` message, as a client replaying an old conversation sends it. */
  functionMessage: {
    ...CONFORMANCE_REQUEST,
    messages: [...CONFORMANCE_REQUEST.messages, { role: "function", name: "capital_of", content: "Paris" }],
  } as unknown as ChatRequest,
} satisfies Record<string, ChatRequest>;

export type ConformanceFeature = keyof typeof CONFORMANCE_FEATURES;
