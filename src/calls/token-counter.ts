import { Worker } from "node:worker_threads";

/**
 * Token counts for usage estimates, from OpenAI's o200k_base tokenizer on a worker thread (see
 * token-thread.mjs). The thread starts on first need: its table costs about 30 MB, and a deployment
 * whose upstreams always report usage never needs it.
 *
 * The work is bounded whatever the input. Byte-pair encoding is quadratic in the length of an unbroken
 * run of characters, so a run of 100 or more non-space characters is counted at four characters per
 * token, as is everything past the first 64 KB of one estimate. A count that has not come back within
 * `DEADLINE_MS`, or a thread that failed, falls back to the same rule. Never throws.
 *
 * A count asked while the thread is still building its table is not waited for either: it falls back
 * at once, and the thread goes on starting for the counts after it. Building takes seconds, often
 * longer than the deadline, and the first estimate after a start would hold its caller that long (a
 * stream's error event, a library caller's `break`, a usage chunk) for a count that came back rough.
 */

const LONG_RUN = /\S{100,}/g;
const EXACT_CHARS_PER_ESTIMATE = 64 * 1024;
const DEADLINE_MS = 3_000;

export const roughTokens = (chars: number): number => Math.ceil(chars / 4);

let thread: Worker | undefined;
/** Set by the thread's first message, which it sends once its table is built. */
let threadReady = false;
let nextId = 0;
const waiting = new Map<number, (counts: number[] | undefined) => void>();

function tokenThread(): Worker {
  if (thread) return thread;
  const worker = new Worker(new URL("./token-thread.mjs", import.meta.url));
  worker.on("message", (reply: { ready: true } | { id: number; counts: number[] }) => {
    if ("ready" in reply) {
      threadReady = true;
      return;
    }
    waiting.get(reply.id)?.(reply.counts);
    waiting.delete(reply.id);
    if (waiting.size === 0) worker.unref();
  });
  const fail = () => {
    if (thread === worker) {
      thread = undefined; // the next estimate starts a new thread
      threadReady = false;
    }
    for (const settle of waiting.values()) settle(undefined);
    waiting.clear();
  };
  worker.on("error", fail);
  worker.on("exit", fail);
  // Held only while counts are awaited: an idle counter must not keep the process alive (listeners re-ref it, so after them).
  worker.unref();
  thread = worker;
  return worker;
}

/** One count per text, in order. */
export async function countTokens(texts: readonly string[]): Promise<number[]> {
  const rough = new Array<number>(texts.length).fill(0);
  const exact: string[] = [];
  let budget = EXACT_CHARS_PER_ESTIMATE;
  texts.forEach((text, i) => {
    let rest = text;
    if (rest.length >= 100) {
      for (const run of rest.match(LONG_RUN) ?? []) rough[i]! += roughTokens(run.length);
      rest = rest.replace(LONG_RUN, "");
    }
    const kept = rest.slice(0, Math.max(0, budget));
    budget -= kept.length;
    rough[i]! += roughTokens(rest.length - kept.length);
    exact.push(kept);
  });
  const counted = await countOnThread(exact);
  return rough.map((r, i) => r + (counted?.[i] ?? roughTokens(exact[i]!.length)));
}

function countOnThread(texts: string[]): Promise<number[] | undefined> {
  if (texts.every((text) => text === "")) return Promise.resolve(texts.map(() => 0));
  if (!threadReady) {
    startThread();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve) => {
    const id = nextId++;
    const timer = setTimeout(() => {
      waiting.delete(id);
      if (waiting.size === 0) thread?.unref();
      resolve(undefined);
    }, DEADLINE_MS);
    timer.unref();
    waiting.set(id, (counts) => {
      clearTimeout(timer);
      resolve(counts);
    });
    try {
      const worker = tokenThread();
      worker.ref();
      worker.postMessage({ id, texts });
    } catch {
      waiting.delete(id);
      clearTimeout(timer);
      resolve(undefined);
    }
  });
}

/** Starts the thread, if it is not starting already, without holding the process open for it. */
function startThread(): void {
  try {
    tokenThread();
  } catch {
    // counted at four characters a token until a later start succeeds
  }
}
