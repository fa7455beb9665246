import { describe, expect, it } from "vitest";
import { fixtureJson } from "../../../test/fakes/upstream.js";
import { AirlockError } from "../../core/errors.js";
import { CONFORMANCE_REQUEST } from "../provider.conformance.js";
import type { ChatRequest } from "../spec.js";
import { SKIP_THOUGHT_SIGNATURE, toGeminiRequest } from "./request.js";
import { normalizeGeminiUsage, toChatResult, toFinishReason } from "./response.js";

/** The pure translation both ways; gemini.test.ts checks the same over HTTP against the fake upstream. */

const WEATHER_TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather for a city",
    parameters: { type: "object", properties: { location: { type: "string" }, unit: { type: "string" } }, required: ["location"], additionalProperties: false },
  },
};

describe("gemini request mapping", () => {
  it("hoists system and developer messages into systemInstruction and maps sampling (seed too) to generationConfig", () => {
    const body = toGeminiRequest(
      {
        model: "gemini-2.5-flash",
        messages: [
          { role: "system", content: "Be brief." },
          { role: "developer", content: [{ type: "text", text: "Answer in English." }] },
          { role: "user", content: "Capital of France?" },
          { role: "assistant", content: "Paris." },
          { role: "user", content: "And of Italy?" },
        ],
        max_tokens: 10,
        max_completion_tokens: 20,
        temperature: 0.2,
        top_p: 0.9,
        stop: "\n\n",
        n: 2,
        user: "user-42",
        seed: 7,
      },
      "gemini",
    );
    expect(body).toEqual({
      systemInstruction: { parts: [{ text: "Be brief.\n\nAnswer in English." }] },
      contents: [
        { role: "user", parts: [{ text: "Capital of France?" }] },
        { role: "model", parts: [{ text: "Paris." }] },
        { role: "user", parts: [{ text: "And of Italy?" }] },
      ],
      generationConfig: { maxOutputTokens: 20, temperature: 0.2, topP: 0.9, stopSequences: ["\n\n"], candidateCount: 2, seed: 7 },
    });
  });

  it("sends no generationConfig or systemInstruction when there is nothing to say", () => {
    expect(toGeminiRequest({ model: "m", messages: [{ role: "user", content: "Hi" }] }, "gemini")).toEqual({ contents: [{ role: "user", parts: [{ text: "Hi" }] }] });
  });

  it("maps response_format: json_schema to a JSON mime type and responseJsonSchema, json_object to the mime type only", () => {
    const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
    const structured = toGeminiRequest({ ...CONFORMANCE_REQUEST, response_format: { type: "json_schema", json_schema: { name: "answer", schema, strict: true } } }, "gemini");
    expect(structured.generationConfig).toEqual({ maxOutputTokens: 64, responseMimeType: "application/json", responseJsonSchema: schema });
    const json = toGeminiRequest({ ...CONFORMANCE_REQUEST, response_format: { type: "json_object" } }, "gemini");
    expect(json.generationConfig).toEqual({ maxOutputTokens: 64, responseMimeType: "application/json" });
    const plain = toGeminiRequest({ ...CONFORMANCE_REQUEST, response_format: { type: "text" } }, "gemini");
    expect(plain.generationConfig).toEqual({ maxOutputTokens: 64 });
  });

  it("maps image data: URLs to inlineData, and https image URLs to fileData", () => {
    const body = toGeminiRequest(
      {
        model: "m",
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "What is in this?" },
              { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
            ],
          },
        ],
      },
      "gemini",
    );
    expect(body.contents).toEqual([{ role: "user", parts: [{ text: "What is in this?" }, { inlineData: { mimeType: "image/png", data: "iVBORw0KGgo=" } }] }]);
    // An image by URL is fetched by Gemini: fileData, with the type its file name says, if it says one.
    const remote: ChatRequest = {
      model: "m",
      messages: [
        {
          role: "user",
          content: [
            { type: "image_url", image_url: { url: "https://example.com/cat.JPG?size=2" } },
            { type: "image_url", image_url: { url: "https://generativelanguage.googleapis.com/v1beta/files/abc-123" } },
          ],
        },
      ],
    };
    expect(toGeminiRequest(remote, "gemini").contents).toEqual([
      {
        role: "user",
        parts: [
          { fileData: { fileUri: "https://example.com/cat.JPG?size=2", mimeType: "image/jpeg" } },
          { fileData: { fileUri: "https://generativelanguage.googleapis.com/v1beta/files/abc-123" } },
        ],
      },
    ]);
  });

  it("maps tools, tool_choice, assistant tool calls (with the skip signature) and tool results (grouped into one user turn)", () => {
    const request: ChatRequest = {
      model: "gemini-2.5-flash",
      messages: [
        { role: "user", content: "Weather in Paris and Rome?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "call_0", type: "function", function: { name: "get_weather", arguments: '{"location":"Paris"}' } },
            { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"location":"Rome"}' } },
          ],
        },
        { role: "tool", tool_call_id: "call_0", content: '{"temperature":18,"unit":"celsius"}' },
        { role: "tool", tool_call_id: "call_1", content: [{ type: "text", text: "24°C" }] },
      ],
      tools: [WEATHER_TOOL],
      tool_choice: { type: "function", function: { name: "get_weather" } },
    };
    const body = toGeminiRequest(request, "gemini");
    expect(body.tools).toEqual([
      { functionDeclarations: [{ name: "get_weather", description: "Current weather for a city", parametersJsonSchema: WEATHER_TOOL.function.parameters }] },
    ]);
    expect(body.toolConfig).toEqual({ functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["get_weather"] } });
    expect(body.contents).toEqual([
      { role: "user", parts: [{ text: "Weather in Paris and Rome?" }] },
      {
        role: "model",
        parts: [
          { functionCall: { name: "get_weather", args: { location: "Paris" } }, thoughtSignature: SKIP_THOUGHT_SIGNATURE },
          { functionCall: { name: "get_weather", args: { location: "Rome" } } },
        ],
      },
      {
        role: "user",
        parts: [
          { functionResponse: { name: "get_weather", response: { temperature: 18, unit: "celsius" } } },
          { functionResponse: { name: "get_weather", response: { output: "24°C" } } },
        ],
      },
    ]);
  });

  it.each([
    ["auto", { mode: "AUTO" }],
    ["none", { mode: "NONE" }],
    ["required", { mode: "ANY" }],
  ])("maps tool_choice %s", (choice, config) => {
    expect(toGeminiRequest({ ...CONFORMANCE_REQUEST, tools: [WEATHER_TOOL], tool_choice: choice }, "gemini").toolConfig).toEqual({ functionCallingConfig: config });
  });

  it("refuses what it cannot translate", () => {
    const badArgs: ChatRequest = { model: "m", messages: [{ role: "assistant", content: null, tool_calls: [{ id: "t", type: "function", function: { name: "f", arguments: "{oops" } }] }] };
    expect(() => toGeminiRequest(badArgs, "gemini")).toThrow(AirlockError);
    const orphan: ChatRequest = { model: "m", messages: [{ role: "tool", tool_call_id: "call_9", content: "18°C" }] };
    expect(() => toGeminiRequest(orphan, "gemini")).toThrow(AirlockError);
    expect(() => toGeminiRequest({ ...CONFORMANCE_REQUEST, tools: [{ type: "code_interpreter" }] }, "gemini")).toThrow(AirlockError);
  });
});

describe("gemini answers", () => {
  it("maps finish reasons, tool calls winning over STOP", () => {
    expect(toFinishReason("STOP", false)).toBe("stop");
    expect(toFinishReason("STOP", true)).toBe("tool_calls");
    expect(toFinishReason("MAX_TOKENS", false)).toBe("length");
    expect(toFinishReason("MAX_TOKENS", true)).toBe("length");
    for (const reason of ["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"]) {
      expect(toFinishReason(reason, false)).toBe("content_filter");
    }
    // Reasons with no OpenAI counterpart still end the turn: clients refuse a finished choice without a reason.
    for (const reason of ["OTHER", "MALFORMED_FUNCTION_CALL", "LANGUAGE", "FINISH_REASON_UNSPECIFIED"]) expect(toFinishReason(reason, false)).toBe("stop");
    expect(toFinishReason("OTHER", true)).toBe("tool_calls");
    expect(toFinishReason(undefined, false)).toBeNull();
  });

  it("turns a blocked prompt (promptFeedback, no candidates) into a content_filter choice with its usage", () => {
    const result = toChatResult(
      { promptFeedback: { blockReason: "PROHIBITED_CONTENT" }, usageMetadata: { promptTokenCount: 9, totalTokenCount: 9 }, modelVersion: "gemini-2.5-flash", responseId: "blocked-1" },
      "gemini",
      "gemini-2.5-flash",
    );
    expect(result.choices).toEqual([{ index: 0, message: { role: "assistant", content: null }, finish_reason: "content_filter" }]);
    expect(result.usage).toEqual({ inputTokens: 9, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
  });

  it("makes usage inclusive: prompt includes cache hits, output gains thoughts, tool-use prompt tokens are input", () => {
    expect(normalizeGeminiUsage(fixtureJson("gemini/generate").usageMetadata)).toEqual({
      inputTokens: 2100,
      outputTokens: 160,
      cachedInputTokens: 2048,
      cacheWriteTokens: 0,
      reasoningTokens: 120,
    });
    expect(normalizeGeminiUsage({ promptTokenCount: 100, toolUsePromptTokenCount: 250, candidatesTokenCount: 30, totalTokenCount: 380 })).toEqual({
      inputTokens: 350,
      outputTokens: 30,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
    });
  });

  it("breaks out the prompt's audio tokens less its cached ones, and the answer's, which are billed at their own rates", () => {
    const usage = normalizeGeminiUsage({
      promptTokenCount: 3000,
      cachedContentTokenCount: 1200,
      candidatesTokenCount: 50,
      promptTokensDetails: [
        { modality: "TEXT", tokenCount: 1000 },
        { modality: "AUDIO", tokenCount: 2000 },
      ],
      cacheTokensDetails: [
        { modality: "TEXT", tokenCount: 1000 },
        { modality: "AUDIO", tokenCount: 200 },
      ],
      candidatesTokensDetails: [{ modality: "AUDIO", tokenCount: 40 }],
    });
    expect(usage).toEqual({ inputTokens: 3000, outputTokens: 50, cachedInputTokens: 1200, cacheWriteTokens: 0, reasoningTokens: 0, audioInputTokens: 1800, audioOutputTokens: 40 });
  });

  it("reads usageMetadata without a prompt count, or with an added count that is not one, as no usage", () => {
    expect(normalizeGeminiUsage({})).toBeUndefined();
    expect(normalizeGeminiUsage({ candidatesTokenCount: 8, totalTokenCount: 8 })).toBeUndefined();
    expect(normalizeGeminiUsage({ promptTokenCount: "12", candidatesTokenCount: 8 } as never)).toBeUndefined();
    expect(normalizeGeminiUsage({ promptTokenCount: 12, candidatesTokenCount: -8 })).toBeUndefined();
    expect(normalizeGeminiUsage({ promptTokenCount: 12, thoughtsTokenCount: "3" } as never)).toBeUndefined();
    // A cached count only splits the prompt: an odd one is 0, and the usage stands.
    expect(normalizeGeminiUsage({ promptTokenCount: 12, candidatesTokenCount: 8, cachedContentTokenCount: "4" } as never)).toEqual({
      inputTokens: 12,
      outputTokens: 8,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
    });
  });
});
