import type { AirlockError } from "../core/errors.js";
import type { CallOptions, ChatRequest, ChatResult, EmbedRequest, EmbedResult, ProviderStream, ProviderV1 } from "./spec.js";

/**
 * A provider that Airlock itself will not call (switched off, or missing its key): every call is
 * refused with the subclass's own error, before anything is sent.
 */
export abstract class RefusingProvider implements ProviderV1 {
  abstract readonly specVersion: ProviderV1["specVersion"];
  abstract readonly name: string;
  abstract readonly type: string;

  protected abstract refusal(): AirlockError;

  chat(_request: ChatRequest, _options: CallOptions): Promise<ChatResult> {
    return Promise.reject(this.refusal());
  }

  stream(_request: ChatRequest, _options: CallOptions): Promise<ProviderStream> {
    return Promise.reject(this.refusal());
  }

  embed(_request: EmbedRequest, _options: CallOptions): Promise<EmbedResult> {
    return Promise.reject(this.refusal());
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
