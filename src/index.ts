import path from "node:path";
import { LIBRARY_KEY_ID, type Principal } from "./auth/principal.js";
import type { BudgetEvent } from "./guards/budget-status.js";
import type { BudgetStatus } from "./guards/budget-status.js";
import type { AirlockConfigInput as ConfigInput } from "./config/schema.js";
import type { AudioOutcome } from "./calls/audio.js";
import type { CallContext } from "./calls/context.js";
import type { StreamEnd } from "./calls/stream.js";
import { ControlPlane } from "./control-plane.js";
import { AirlockError } from "./core/errors.js";
import { requestId } from "./core/ids.js";
import { silentLogger, type Logger } from "./core/logger.js";
import { ConfigError, loadConfig, resolveConfig, type LoadedConfig } from "./config/load.js";
import type { AirlockConfigInput } from "./config/schema.js";
import type { ChatChunk, ChatMessage, FinishReason, ToolCall, Usage } from "./providers/spec.js";
import type { LedgerAttempt as AttemptRecord } from "./store/schema/ledger-json.js";
import type { FlipInput, KillSwitchStatus } from "./guards/kill-switch-status.js";
import { openDatabase, type Database } from "./store/database.js";
import { CallsInFlight, DEFAULT_CLOSE_GRACE_MS } from "./library/calls-in-flight.js";
import { Opening } from "./library/opening.js";
import { readOnce } from "./library/read-once.js";
import { heardSafely } from "./library/budget-listener.js";
import { airlockOptions, chatRequest, named, contextFields, embedRequest, signalOf, speechRequest, transcriptionRequest } from "./library/arguments.js";
import type { Endpoint } from "./routing/plan.js";
import type { AbortSource } from "./core/cancel.js";
import type { InferOutput } from "./structured/infer.js";
import type { OutputSchemaInput } from "./structured/schema.js";
import type { ExecutionModule } from "./governance/executions/modules.js";
import type { MemoryReader } from "./governance/executions/memory-reader.js";

export { AirlockError, type ErrorCode } from "./core/errors.js";
export { ConfigError } from "./config/load.js";
export { StoreInUseError } from "./store/data-dir-lock.js";
export { StoreOpenError } from "./store/open-error.js";
export type { AirlockConfigInput as AirlockConfig } from "./config/schema.js";
export type { ChatMessage, ChatChunk, Usage, ToolCall, FinishReason } from "./providers/spec.js";
export type { ProviderV1 } from "./providers/spec.js";
export type { LedgerAttempt as AttemptRecord } from "./store/schema/ledger-json.js";
export type { InferOutput } from "./structured/infer.js";
export type { OutputSchemaInput, SchemaIssue } from "./structured/schema.js";
export type { FlipInput as KillSwitchFlip, KillSwitchStatus } from "./guards/kill-switch-status.js";
export type { BudgetEvent } from "./guards/budget-status.js";
export type { BudgetStatus } from "./guards/budget-status.js";
export type { ExecutionModule, ModuleContext, ModuleResult, DirectiveBrief } from "./governance/executions/modules.js";
export { noopMemoryReader, type MemoryReader, type ExecutionSummary } from "./governance/executions/memory-reader.js";

export interface AirlockOptions {
  /** A config object, or a path to a YAML/JSON file. Default: airlock.config.* in the working directory, else the demo. */
  config?: AirlockConfigInput | string | undefined;
  /** Where the embedded store lives. Default `.airlock`. */
  dataDir?: string | undefined;
  /** Use PostgreSQL instead of the embedded store. Default: `DATABASE_URL`. */
  databaseUrl?: string | undefined;
  /** Keep the embedded store in memory only (scripts, tests). */
  inMemory?: boolean | undefined;
  logger?: Logger | undefined;
  /** Hears budget warnings, exhaustions and window openings: each once per window, from one instance. */
  onBudgetEvent?: ((event: BudgetEvent) => void) | undefined;
  /** Execution modules for directives, beside noop, echo, fail_intentionally and llm_call. */
  modules?: ExecutionModule[] | undefined;
  /** This process's stable, distinct name as a directive worker (default: the host name). */
  executorId?: string | undefined;
  /** How long `close()` lets calls still running finish before it ends them (recorded as `unavailable`). Default 10 000. */
  closeGraceMs?: number | undefined;
}

export interface CallOptions {
  /** The operation this call belongs to: its route, defaults and guards apply. */
  operation?: string | undefined;
  /** A catalog model (`provider/model-id`), tier or operation. Optional when `operation` is given. */
  model?: string | undefined;
  /** The end user the call is made for (ledger and budgets). */
  user?: string | undefined;
  session?: string | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * A message as a caller writes it: OpenAI's chat message params, so that messages typed with the
 * `openai` package's `ChatCompletionMessageParam` pass as they are. Parts and tool calls that only some
 * providers take (audio, files, custom tool calls) are judged when the call is made, as the gateway
 * judges them: see docs/providers.md.
 */
export interface ChatMessageInput {
  role: ChatMessage["role"] | "function";
  content?: string | readonly ContentPartInput[] | null | undefined;
  name?: string | undefined;
  tool_calls?: readonly ToolCallInput[] | undefined;
  tool_call_id?: string | undefined;
}

export type ContentPartInput =
  | { type: "text"; text: string }
  | { type: "image_url"; image_url: { url: string; detail?: string | undefined } }
  | { type: "input_audio"; input_audio: { data: string; format: string } }
  | { type: "file"; file: { file_data?: string | undefined; file_id?: string | undefined; filename?: string | undefined } }
  | { type: "refusal"; refusal: string };

export type ToolCallInput = ToolCall | { id: string; type: "custom"; custom: { name: string; input: string } };

export interface ChatOptions<S extends OutputSchemaInput | undefined = OutputSchemaInput | undefined> extends CallOptions {
  /** Optional when the operation's prompt templates build the conversation from `variables`. */
  messages?: readonly ChatMessageInput[] | undefined;
  /** Values for the operation's prompt templates (`{{user.name}}`). */
  variables?: Record<string, unknown> | undefined;
  /**
   * The answer's shape: the short notation (`"{name: string, tags: string[]}"`), JSON Schema (declare it
   * `as const` for a typed result) or a zod schema. Overrides the operation's schema. The parsed answer
   * is returned as `output`.
   */
  outputSchema?: S | undefined;
  maxTokens?: number | undefined;
  temperature?: number | undefined;
  /** Any other OpenAI chat parameters (tools, response_format, stop…), passed through. */
  params?: Record<string, unknown> | undefined;
}

export interface CallInfo {
  /** The catalog model that answered. */
  model: string;
  provider: string;
  usage: Usage;
  /** USD, exact decimal string. */
  cost: string;
  attempts: AttemptRecord[];
  requestId: string;
}

export interface ChatResponse<T = unknown> extends CallInfo {
  id: string;
  content: string | null;
  toolCalls: ToolCall[] | undefined;
  finishReason: FinishReason;
  /** The parsed answer, checked against the output schema (the request's or the operation's); undefined without one. */
  output: T;
}

/** What `output` holds for a given `outputSchema`: typed from the schema, `unknown` when only the operation has one. */
export type OutputOf<S> = [S] extends [undefined] ? unknown : InferOutput<S>;

export type StreamPart = { type: "text"; text: string; chunk: ChatChunk } | ({ type: "done" } & CallInfo);

export interface EmbedOptions extends CallOptions {
  input: string | string[];
  dimensions?: number | undefined;
}

export interface EmbedResponse extends CallInfo {
  embeddings: number[][];
}

export interface TranscribeOptions extends CallOptions {
  /** The audio: a Blob or File (WAV, MP3, M4A, OGG, FLAC, WebM…). */
  file: Blob;
  /** The file name the upstream sees; a File's own name by default. */
  filename?: string | undefined;
  /** language, prompt, response_format, temperature…, passed through as form fields. */
  fields?: Record<string, string> | undefined;
}

export interface SpeakOptions extends CallOptions {
  input: string;
  voice: string;
  /** response_format, speed, instructions…, passed through. */
  params?: Record<string, unknown> | undefined;
}

export interface AudioResponse extends CallInfo {
  /** The upstream's answer as it came: transcription text or JSON, or audio bytes. */
  body: Uint8Array;
  contentType: string;
}

export interface Airlock {
  chat<const S extends OutputSchemaInput | undefined = undefined>(options: ChatOptions<S>): Promise<ChatResponse<OutputOf<S>>>;
  /** Chunks as they arrive; the last part is `done`, with usage and cost. The call is made when reading begins, and its parts may be read once: a second `for await` throws `invalid_request`. */
  stream(options: ChatOptions): AsyncIterable<StreamPart>;
  embed(options: EmbedOptions): Promise<EmbedResponse>;
  /** Speech to text, billed by the second of audio (or by tokens, for token-priced models). */
  transcribe(options: TranscribeOptions): Promise<AudioResponse>;
  /** Text to speech, billed by the character. */
  speak(options: SpeakOptions): Promise<AudioResponse>;
  /** Flips the kill switch, globally or for one operation; audited with the actor `library`. */
  setKillSwitch(input: FlipInput): Promise<KillSwitchStatus>;
  killSwitchStatus(): Promise<KillSwitchStatus>;
  /** Whether a feature toggle is on; one that does not exist is off. */
  isEnabled(name: string): Promise<boolean>;
  /** Resolves when a feature toggle is on; rejects with `disabled`, naming it, when it is off or missing. */
  enforce(name: string): Promise<void>;
  /** Every budget with its current window's spend, reservations and remaining room. */
  budgets(): Promise<BudgetStatus[]>;
  /** Creates or replaces a budget (`{scope, target?, window?, timezone?, limit, warnAt?}`); audited with the actor `library`. */
  setBudget(name: string, budget: BudgetInput): Promise<BudgetStatus>;
  deleteBudget(name: string): Promise<boolean>;
  /** Grants the library's own calls (key id `library`) a HIGH-criticality operation: `{operation, expiresInHours?, maxCalls?, maxSpendUsd?}`. Audited. */
  grant(grant: GrantInput): Promise<{ id: string; expiresAt: Date }>;
  /** The governance pipeline's past, read-only: directives, run summaries and artifacts, at most 100 at a time, frozen. */
  memory: MemoryReader;
  /** Lets running calls finish (up to `closeGraceMs`), flushes the ledger and closes the store; later calls reject with `unavailable`. */
  close(): Promise<void>;
}

/** Every option's name, kept complete by the type: an unknown one is refused (see airlockOptions). */
const OPTION_NAMES = Object.keys({
  config: true,
  dataDir: true,
  databaseUrl: true,
  inMemory: true,
  logger: true,
  onBudgetEvent: true,
  modules: true,
  executorId: true,
  closeGraceMs: true,
} satisfies Record<keyof AirlockOptions, true>);

const LIBRARY_PRINCIPAL: Principal = { keyId: LIBRARY_KEY_ID, name: "in-process library", kind: "service", userId: null, teamId: null, orgId: null };

/** Airlock in process: the same routing, guards and ledger as the gateway, without HTTP. */
export function createAirlock(options: AirlockOptions | AirlockConfigInput = {}): Airlock {
  const opts = airlockOptions<AirlockOptions>(options, OPTION_NAMES);
  // A config object is validated now, so a bad one fails where it was written.
  const eager = opts.config && typeof opts.config !== "string" ? resolveConfig(opts.config, "createAirlock()") : undefined;
  let closing: Promise<void> | undefined;
  const opening = new Opening<{ plane: ControlPlane; database: Database }>(
    async () => {
      const loaded: LoadedConfig = eager ?? (await loadConfig({ path: typeof opts.config === "string" ? opts.config : undefined }));
      const url = opts.databaseUrl ?? (opts.inMemory ? undefined : process.env.DATABASE_URL || undefined);
      const dataDir = path.resolve(opts.dataDir ?? ".airlock");
      const database = await openDatabase(url ? { url } : opts.inMemory ? {} : { dataDir: path.join(dataDir, "pgdata") });
      try {
        const plane = await ControlPlane.create({ config: loaded, database, logger: opts.logger, dataDir: opts.inMemory ? undefined : dataDir, onBudgetEvent: opts.onBudgetEvent && heardSafely(opts.onBudgetEvent, opts.logger ?? silentLogger), modules: opts.modules, executorId: opts.executorId });
        return { plane, database };
      } catch (err) {
        // The next call opens the store again: this one must not stay open, holding its connections or its lock.
        await database.close().catch(() => undefined);
        throw err;
      }
    },
    (err) => err instanceof ConfigError,
  );
  const ready = async (): Promise<ControlPlane> => (await opening.get()).plane;
  // The store starts opening now; a failure is surfaced by the first call instead of as an unhandled rejection.
  opening.get().catch(() => undefined);

  const calls = new CallsInFlight();
  const context = (call: unknown, signal: AbortSource): CallContext => {
    const fields = contextFields(call);
    return { principal: LIBRARY_PRINCIPAL, requestId: requestId(), operation: fields.operation, endUser: fields.user, session: fields.session, signal };
  };
  /** The call's request, or its refusal (recorded on the ledger, as the gateway records a malformed body). */
  const requestOf = <T>(plane: ControlPlane, ctx: CallContext, endpoint: Endpoint, call: unknown, build: () => T): T => {
    try {
      return build();
    } catch (err) {
      throw plane.refuse(ctx, endpoint, contextFields(call).model, err);
    }
  };
  /**
   * One call made through the plane: tracked so that close() waits for it, its request built (and a
   * malformed one refused, recorded) before `send` sends it.
   */
  const made = <Request, Outcome>(call: unknown, endpoint: Endpoint, build: () => Request, send: (plane: ControlPlane, request: Request, ctx: CallContext) => Promise<Outcome>) =>
    calls.track(signalOf(call), async (signal) => {
      const plane = await ready();
      const ctx = context(call, signal);
      try {
        return { outcome: await send(plane, requestOf(plane, ctx, endpoint, call, build), ctx), requestId: ctx.requestId };
      } catch (err) {
        throw asTheCallerSees(withRequestId(err, ctx.requestId), signalOf(call));
      }
    });
  /** The plane, for a method that only reads or changes guard state; tracked so that close() waits for it. */
  const withPlane = <T>(work: (plane: ControlPlane) => T | Promise<T>): Promise<T> => calls.track(undefined, async () => work(await ready()));

  async function* streamParts(call: ChatOptions): AsyncGenerator<StreamPart> {
    let id = "";
    const parts = calls.trackStream(signalOf(call), async (signal) => {
      const plane = await ready();
      const ctx = context(call, signal);
      id = ctx.requestId;
      return plane.stream(requestOf(plane, ctx, "chat", call, () => chatRequest(call, "stream")), ctx);
    });
    try {
      for await (const part of parts) {
        if (part.type === "chunk") yield { type: "text", text: part.chunk.choices[0]?.delta.content ?? "", chunk: part.chunk };
        else yield { type: "done", ...info(part.end, id) };
      }
    } catch (err) {
      throw asTheCallerSees(id === "" ? err : withRequestId(err, id), signalOf(call));
    }
  }

  return {
    chat<const S extends OutputSchemaInput | undefined = undefined>(call: ChatOptions<S>): Promise<ChatResponse<OutputOf<S>>> {
      return made(call, "chat", () => chatRequest(call, "chat"), (plane, request, ctx) => plane.chat(request, ctx)).then(({ outcome, requestId }) => {
        const choice = outcome.result.choices[0];
        return {
          id: outcome.result.id,
          content: choice?.message.content ?? null,
          toolCalls: choice?.message.tool_calls,
          finishReason: choice?.finish_reason ?? null,
          output: outcome.output as OutputOf<S>,
          ...info(outcome, requestId),
        };
      });
    },
    stream(call) {
      return readOnce(() => streamParts(call));
    },
    embed(call) {
      return made(call, "embeddings", () => embedRequest(call), (plane, request, ctx) => plane.embed(request, ctx)).then(({ outcome, requestId }) => ({
        embeddings: outcome.result.data.map((d) => (Array.isArray(d.embedding) ? d.embedding : [])),
        ...info(outcome, requestId),
      }));
    },
    transcribe(call) {
      return made(call, "transcriptions", () => transcriptionRequest(call), (plane, request, ctx) => plane.transcribe(request, ctx)).then(audioAnswer);
    },
    speak(call) {
      return made(call, "speech", () => speechRequest(call), (plane, request, ctx) => plane.speak(request, ctx)).then(audioAnswer);
    },
    setKillSwitch(input) {
      // The embedding application owns the process: it is trusted as an admin key is.
      return withPlane((plane) => plane.flipKillSwitch(input, { ...LIBRARY_PRINCIPAL, kind: "admin" }));
    },
    killSwitchStatus() {
      return withPlane((plane) => plane.killSwitch.status());
    },
    isEnabled(name) {
      return withPlane((plane) => plane.toggles.isEnabled(named(name, "toggle")));
    },
    enforce(name) {
      return withPlane((plane) => plane.toggles.enforce(named(name, "toggle")));
    },
    budgets() {
      return withPlane((plane) => plane.budgets.status());
    },
    setBudget(name, budget) {
      return withPlane((plane) => plane.budgets.put(named(name, "budget"), budget, { ...LIBRARY_PRINCIPAL, kind: "admin" }));
    },
    deleteBudget(name) {
      return withPlane((plane) => plane.budgets.remove(named(name, "budget"), { ...LIBRARY_PRINCIPAL, kind: "admin" }));
    },
    grant(grant) {
      return withPlane(async (plane) => {
        const made = await plane.grants.grant({ ...grant, keyId: LIBRARY_PRINCIPAL.keyId }, { ...LIBRARY_PRINCIPAL, kind: "admin" });
        return { id: made.id, expiresAt: made.expiresAt };
      });
    },
    memory: Object.freeze({
      latestDirectiveForRole: (role: string) => withPlane((plane) => plane.governance.memory.latestDirectiveForRole(role)),
      executionSummaries: (limit: number, status?: Parameters<MemoryReader["executionSummaries"]>[1]) => withPlane((plane) => plane.governance.memory.executionSummaries(limit, status)),
      artifactsByType: (type: Parameters<MemoryReader["artifactsByType"]>[0], limit: number) => withPlane((plane) => plane.governance.memory.artifactsByType(type, limit)),
    }),
    close() {
      // Once for every caller: a second close() while the first runs waits for it, and the store is closed once.
      closing ??= (async () => {
        // Calls still running settle on the ledger before it closes; calls after this are refused.
        await calls.close(opts.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS);
        const opened = await opening.opened();
        await opened?.plane.close();
        await opened?.database.close();
      })();
      return closing;
    },
  };
}

/** A grant as `grant()` takes it: bounded by calls, by spend (USD, decimal string), or by both; a grant without either is refused. */
export type GrantInput = { operation: string; expiresInHours?: number | undefined } & (
  | { maxCalls: number; maxSpendUsd?: string | undefined }
  | { maxCalls?: number | undefined; maxSpendUsd: string }
);

/** A budget as `setBudget` takes it: the config file's budget fields without the name. */
export type BudgetInput = Omit<NonNullable<ConfigInput["budgets"]>[number], "name">;

/** What `transcribe()` and `speak()` answer: the audio endpoint's bytes as they came, and the call's costs. */
function audioAnswer({ outcome, requestId }: { outcome: AudioOutcome; requestId: string }) {
  return { body: outcome.result.body, contentType: outcome.result.contentType, ...info(outcome, requestId) };
}

/** A failed call's error, with the id its ledger row carries (as the gateway's `x-request-id`). */
function withRequestId(err: unknown, id: string): unknown {
  if (err instanceof AirlockError && err.requestId === undefined) err.requestId = id;
  return err;
}

/**
 * A `timeout` that the caller's own deadline (`AbortSignal.timeout()`) caused is named `TimeoutError`,
 * as that signal's reason is and as fetch and the Vercel AI SDK surface it, so that the usual
 * `err.name === "TimeoutError"` branch sees it; a caller's abort is already named `AbortError`.
 */
function asTheCallerSees(err: unknown, signal: AbortSource | undefined): unknown {
  if (err instanceof AirlockError && err.code === "timeout" && signal?.aborted && (signal.reason as { name?: unknown } | undefined)?.name === "TimeoutError") err.name = "TimeoutError";
  return err;
}

function info(outcome: Omit<StreamEnd, "priceMissing" | "usageEstimated">, id: string): CallInfo {
  return { model: outcome.model, provider: outcome.provider, usage: outcome.usage, cost: outcome.cost, attempts: outcome.attempts, requestId: id };
}
