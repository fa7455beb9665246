import type { AnthropicConfig } from "../../config/providers.js";
import { ProviderError } from "../errors.js";
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
import { toAnthropicRequest } from "./request.js";
import { anthropicErrorFromResponse, toChatResult } from "./response.js";
import { AnthropicStreamUsage, toStreamEvents } from "./stream.js";

/** The Anthropic Messages API, translated to and from the OpenAI shapes at this edge. */
export class AnthropicProvider implements ProviderV1 {
  readonly specVersion = PROVIDER_SPEC_VERSION;
  readonly type = "anthropic";
  private readonly http: UpstreamClient;
  private readonly messagesPath: string;
  private readonly defaultMaxTokens: number;

  constructor(
    readonly name: string,
    config: AnthropicConfig,
  ) {
    const headers: Record<string, string> = { ...config.headers, "anthropic-version": config.version };
    if (config.apiKey !== undefined) headers["x-api-key"] = config.apiKey;
    this.http = new UpstreamClient({
      provider: name,
      baseUrl: config.baseUrl,
      headers,
      connections: config.connections,
      timeoutMs: config.timeoutMs,
      errorFromResponse: (status, responseHeaders, bodyText) => anthropicErrorFromResponse(name, status, responseHeaders, bodyText),
    });
    this.messagesPath = this.http.path("/v1/messages");
    this.defaultMaxTokens = config.defaultMaxTokens;
  }

  async chat(request: ChatRequest, options: CallOptions): Promise<ChatResult> {
    const body = toAnthropicRequest(request, this.name, this.defaultMaxTokens);
    const raw = await this.http.postJson(this.messagesPath, JSON.stringify(body), options);
    return toChatResult(raw, this.name);
  }

  async stream(request: ChatRequest, options: CallOptions): Promise<ProviderStream> {
    const body = toAnthropicRequest(request, this.name, this.defaultMaxTokens);
    body.stream = true;
    const messages = await this.http.postSse(this.messagesPath, JSON.stringify(body), options);
    const usage = new AnthropicStreamUsage();
    return providerStream(toStreamEvents(messages, this.name, usage, this.http.secrets), () => usage.soFar());
  }

  embed(_request: EmbedRequest, _options: CallOptions): Promise<EmbedResult> {
    return Promise.reject(
      new ProviderError("anthropic has no embeddings API", { kind: "unsupported", provider: this.name, fallbackable: true }),
    );
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
