import type { NoopConfig } from "../../config/providers.js";
import { AirlockError } from "../../core/errors.js";
import { RefusingProvider } from "../refusing.js";
import { PROVIDER_SPEC_VERSION } from "../spec.js";

/**
 * A provider switched off in config. Refusing is Airlock's own decision, not an upstream failure,
 * so it is an AirlockError "disabled" (503) rather than a ProviderError that would invite retries.
 */
export class NoopProvider extends RefusingProvider {
  readonly specVersion = PROVIDER_SPEC_VERSION;
  readonly type = "noop";
  private readonly message: string;

  constructor(
    readonly name: string,
    config: NoopConfig,
  ) {
    super();
    this.message = `provider "${name}" is disabled: ${config.reason}`;
  }

  protected refusal(): AirlockError {
    return new AirlockError("disabled", this.message, { details: { provider: this.name } });
  }
}
