import { countTokens } from "../../src/calls/token-counter.js";

/**
 * Waits until the tokenizer's thread answers. It starts on first need, and on a busy machine its start
 * can outlast the counter's deadline, which then counts four characters to a token: a test of exact
 * counts waits for the thread first, and the deadline has tests of its own.
 */
export async function tokenizerReady(): Promise<void> {
  for (let tries = 0; tries < 20; tries++) if ((await countTokens(["Hello, world!"]))[0] === 4) return;
  throw new Error("the tokenizer's thread never answered");
}
