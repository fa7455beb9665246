import { AirlockError } from "../core/errors.js";
import { RefusingProvider } from "./refusing.js";
import type { AudioResult, CallOptions, ProviderV1, SpeechRequest, TranscriptionRequest } from "./spec.js";

/**
 * A provider whose `apiKey` is an `env:NAME` reference to a variable that is not set. Its calls are
 * refused before anything is sent: sent without a key, they would meet the upstream's 401 and fail as
 * an upstream error that names nothing to fix. The configuration still loads, so that a provider the
 * application never calls (a fallback for a key it has not got yet) does not stop the start.
 *
 * `misconfigured`, not `disabled`: the refusal names the variable to set. The route moves on to its
 * next target, as it does on an upstream's refused key (UnsetKeyError): a provider without its key must
 * not take down a route whose fallback has one. The attempt stays on the ledger (`misconfigured`), and
 * the call fails with this refusal when no later target answers instead.
 */
export class UnsetKeyProvider extends RefusingProvider {
  readonly specVersion: ProviderV1["specVersion"];
  readonly name: string;
  readonly type: string;
  // Present only where the adapter has them: a call routed to an adapter without audio moves on, as before.
  readonly transcribe?: (request: TranscriptionRequest, options: CallOptions) => Promise<AudioResult>;
  readonly speak?: (request: SpeechRequest, options: CallOptions) => Promise<AudioResult>;

  constructor(
    private readonly inner: ProviderV1,
    private readonly variable: string,
  ) {
    super();
    this.specVersion = inner.specVersion;
    this.name = inner.name;
    this.type = inner.type;
    if (inner.transcribe) this.transcribe = () => Promise.reject(this.refusal());
    if (inner.speak) this.speak = () => Promise.reject(this.refusal());
  }

  override close(): Promise<void> {
    return this.inner.close();
  }

  /** Names the variable, never a value: there is none, and the message reaches clients. */
  protected refusal(): AirlockError {
    return new UnsetKeyError("misconfigured", `provider "${this.name}" has no API key: its apiKey reads the environment variable ${this.variable}, which is unset or empty`, {
      details: { provider: this.name, variable: this.variable },
    });
  }
}

/** Airlock's refusal to call a provider that has no key: `misconfigured`, and worth a fallback (see UnsetKeyProvider). */
export class UnsetKeyError extends AirlockError {}

/** `factory`, with each provider named in `unsetKeys` (name → variable) refusing its calls. */
export function refusingUnsetKeys<Config>(factory: (name: string, config: Config) => ProviderV1, unsetKeys: Readonly<Record<string, string>>): (name: string, config: Config) => ProviderV1 {
  return (name, config) => {
    const provider = factory(name, config);
    const variable = Object.hasOwn(unsetKeys, name) ? unsetKeys[name] : undefined;
    return variable === undefined ? provider : new UnsetKeyProvider(provider, variable);
  };
}
