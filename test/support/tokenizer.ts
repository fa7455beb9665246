import { countTokens } from "../../src/calls/token-counter.js";

/**
 * Waits until the tokenizer's thread answers. It starts on first need, and counts asked before it is
 * ready come back at four characters to a token: a test of exact counts waits for the thread first.
 */
export async function tokenizerReady(): Promise<void> {
  for (let tries = 0; tries < 600; tries++) {
    // Exactly 7 tokens, where four characters to a token would make 8.
    if ((await countTokens(["The capital of France is Paris."]))[0] === 7) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the tokenizer's thread never answered");
}
