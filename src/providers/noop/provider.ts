import type { NoopConfig } from "../../config/providers.js";
import { AirlockError } from "../../core/errors.js";
import {
  PROVIDER_SPEC_VERSION,
  type CallOptions,
  type ChatRequest,
  type ChatResult,
  type EmbedRequest,
  type EmbedResult,
  type ProviderV1,
  type ProviderStream,
} from "../spec.js";

/**
 * A provider switched off in config. Refusing is Airlock's own decision, not an upstream failure,
 * so it is an AirlockError "disabled" (503) rather than a ProviderError that would invite retries.
 */
export class NoopProvider implements ProviderV1 {
  readonly specVersion = PROVIDER_SPEC_VERSION;
  readonly type = "noop";
  private readonly message: string;

  constructor(
    readonly name: string,
    config: NoopConfig,
  ) {
    this.message = `provider "${name}" is disabled: ${config.reason}`;
  }

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

  private refusal(): AirlockError {
    return new AirlockError("disabled", this.message, { details: { provider: this.name } });
  }
}
