import type { GeminiConfig } from "../../config/providers.js";
import { UpstreamClient } from "../http.js";
import {
  PROVIDER_SPEC_VERSION,
  type CallOptions,
  type ChatRequest,
  type ChatResult,
  type EmbedRequest,
  type EmbedResult,
  providerStream,
  type ProviderStream,
  type ProviderV1,
} from "../spec.js";
import { geminiErrorFromResponse } from "./errors.js";
import { toGeminiEmbedRequest, toGeminiRequest } from "./request.js";
import { toChatResult, toEmbedResult } from "./response.js";
import { toStreamEvents, usageSoFar } from "./stream.js";
import type { GeminiUsageMetadata } from "./wire.js";

/** The Gemini API (generateContent and friends), translated to and from the OpenAI shapes at this edge. */
export class GeminiProvider implements ProviderV1 {
  readonly specVersion = PROVIDER_SPEC_VERSION;
  readonly type = "gemini";
  private readonly http: UpstreamClient;
  private readonly apiVersion: string;

  constructor(
    readonly name: string,
    config: GeminiConfig,
  ) {
    const headers: Record<string, string> = { ...config.headers };
    // The header, not the `?key=` query parameter Google also accepts: URLs end up in logs and traces.
    if (config.apiKey !== undefined) headers["x-goog-api-key"] = config.apiKey;
    this.http = new UpstreamClient({
      provider: name,
      baseUrl: config.baseUrl,
      headers,
      connections: config.connections,
      timeoutMs: config.timeoutMs,
      errorFromResponse: (status, responseHeaders, bodyText) => geminiErrorFromResponse(name, status, responseHeaders, bodyText),
    });
    this.apiVersion = config.apiVersion;
  }

  async chat(request: ChatRequest, options: CallOptions): Promise<ChatResult> {
    const body = toGeminiRequest(request, this.name);
    const raw = await this.http.postJson(this.methodPath(request.model, "generateContent"), JSON.stringify(body), options);
    return toChatResult(raw, this.name, request.model);
  }

  async stream(request: ChatRequest, options: CallOptions): Promise<ProviderStream> {
    const body = toGeminiRequest(request, this.name);
    // Without alt=sse, Google streams one JSON array instead of server-sent events.
    const path = this.methodPath(request.model, "streamGenerateContent");
    const messages = await this.http.postSse(`${path}${path.includes("?") ? "&" : "?"}alt=sse`, JSON.stringify(body), options);
    const reported: { metadata?: GeminiUsageMetadata } = {};
    return providerStream(toStreamEvents(messages, this.name, request.model, this.http.secrets, reported), () => usageSoFar(reported));
  }

  async embed(request: EmbedRequest, options: CallOptions): Promise<EmbedResult> {
    const body = toGeminiEmbedRequest(request, this.name);
    const raw = await this.http.postJson(this.methodPath(request.model, "batchEmbedContents"), JSON.stringify(body), options);
    return toEmbedResult(raw, this.name, request);
  }

  close(): Promise<void> {
    return this.http.close();
  }

  /** `/{apiVersion}/models/{model}:{method}`; the model varies per call, so the path is built per call. */
  private methodPath(model: string, method: string): string {
    return this.http.path(`/${this.apiVersion}/models/${encodeURIComponent(model)}:${method}`);
  }
}
