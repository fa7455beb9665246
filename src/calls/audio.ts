import { Cancellation, type AbortSource } from "../core/cancel.js";
import { ProviderError } from "../providers/errors.js";
import type { AudioResult, CallOptions, ProviderV1, SpeechRequest, TranscriptionRequest } from "../providers/spec.js";
import { emptyUsage } from "../providers/spec.js";
import type { Endpoint } from "../routing/plan.js";
import type { WorstCase } from "../policy/budgets.js";
import { speechWorstCase, transcriptionWorstCase } from "./holds.js";
import type { CallContext, CallDeps } from "./context.js";
import { begin } from "./prepare.js";
import { runSingle, type SingleOutcome } from "./single.js";

export type AudioOutcome = SingleOutcome<AudioResult>;

/** `audio/transcriptions`: billed by the second of audio (or by tokens, for token-priced models). */
export function runTranscription(deps: CallDeps, ctx: CallContext, request: TranscriptionRequest): Promise<AudioOutcome> {
  return runAudio(deps, ctx, "transcriptions", request.model, () => transcriptionWorstCase(request.file), async (provider, upstreamId, options) => {
    if (!provider.transcribe) throw unsupported(provider, "transcription");
    const result = await provider.transcribe({ ...request, model: upstreamId }, options);
    if (result.usageReported) return result;
    // Plain text, srt and vtt say nothing of the audio's length: read it from the file itself.
    return { ...result, usage: { ...emptyUsage(), audioSeconds: await audioSeconds(request.file, options.cancellation ?? options.signal) } };
  });
}

/** `audio/speech`: billed by the character of the text spoken. */
export function runSpeech(deps: CallDeps, ctx: CallContext, request: SpeechRequest): Promise<AudioOutcome> {
  return runAudio(deps, ctx, "speech", request.model, () => speechWorstCase(request.input), (provider, upstreamId, options) => {
    if (!provider.speak) throw unsupported(provider, "speech");
    return provider.speak({ ...request, model: upstreamId }, options);
  });
}

type AudioCall = (provider: ProviderV1, upstreamId: string, options: CallOptions) => Promise<AudioResult>;

async function runAudio(deps: CallDeps, ctx: CallContext, endpoint: Endpoint, requestedModel: string, worst: () => WorstCase, call: AudioCall): Promise<AudioOutcome> {
  const settling = deps.killSwitch.settling();
  if (settling) await settling;
  const begun = begin(deps, ctx, endpoint, false, requestedModel || undefined);
  return runSingle(deps, ctx, begun, worst, (target, attempt) => call(target.provider, target.upstreamId, attempt));
}

function unsupported(provider: ProviderV1, what: string): ProviderError {
  return new ProviderError(`${provider.name}: the ${provider.type} adapter has no ${what} endpoint`, { kind: "unsupported", provider: provider.name, fallbackable: true });
}

/**
 * The length of an audio file, from its container's header (WAV, MP3, M4A, OGG, FLAC, WebM…). The
 * parser is loaded on first need: most deployments never transcribe without usage in the answer.
 * A file it cannot read is taken to be 128 kbit/s audio (16 KB a second, at least one second), so a
 * large unreadable file is never billed as a short one; the row is flagged `usage_estimated` either way.
 */
const BYTES_PER_SECOND = 16_000;

/**
 * How long the parser may look. A real file's header is read in milliseconds (a 25 MB MP3 in ~50 ms),
 * but its frame search is slow on junk: 0xFF bytes before the audio, which decoders skip and the
 * upstream transcribes, cost it seconds per 100 KB, so a 26 MB upload would hold a core for an hour.
 * Past this, or when the call is cancelled, the size-based figure stands, as for an unreadable file.
 */
export const AUDIO_MEASURE_MS = 3_000;

async function audioSeconds(file: Blob, call: AbortSource): Promise<number> {
  const stop = new Cancellation(call, AUDIO_MEASURE_MS);
  try {
    const { parseBlob } = await import("music-metadata");
    const metadata = await parseBlob(new StoppableBlob(file, stop), { duration: true, skipCovers: true });
    const seconds = metadata.format.duration;
    if (seconds !== undefined && Number.isFinite(seconds) && seconds > 0) return Math.round(seconds * 1000) / 1000;
  } catch {
    // fall through to the size-based figure below
  } finally {
    stop.dispose();
  }
  return Math.max(1, Math.ceil(file.size / BYTES_PER_SECOND));
}

/** Reads between two turns of the event loop: about 2 ms of the parser's slowest search. */
const READS_PER_TURN = 64;

/**
 * The file as the parser reads it. Every read is a slice, and an in-memory Blob's bytes come back
 * without a turn of the event loop: left alone, a long parse would hold every other request (and the
 * deadline's own timer) until it ended. So every READS_PER_TURN-th read waits a turn first, and once
 * `stop` has fired the next read throws, which ends the parse. (music-metadata takes no signal for a Blob.)
 */
class StoppableBlob extends Blob {
  private reads = 0;

  constructor(
    file: Blob,
    private readonly stop: AbortSource,
  ) {
    super([file], { type: file.type });
  }

  override slice(start?: number, end?: number, contentType?: string): Blob {
    if (this.stop.aborted) throw new Error("the audio's length was not read in time");
    const part = super.slice(start, end, contentType);
    return ++this.reads % READS_PER_TURN === 0 ? new AfterATurn([part]) : part;
  }
}

class AfterATurn extends Blob {
  override async arrayBuffer(): Promise<ArrayBuffer> {
    await new Promise((resolve) => setImmediate(resolve));
    return super.arrayBuffer();
  }
}
