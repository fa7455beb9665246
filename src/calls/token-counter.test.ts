import { describe, expect, it } from "vitest";
import { tokenizerReady } from "../../test/support/tokenizer.js";
import { countTokens } from "./token-counter.js";

/** This file must count nothing before its first test: the tokenizer's thread is not started yet. */
describe("token counts asked while the tokenizer's thread starts", () => {
  it("come back at once at four characters a token, and exact once the thread is ready", async () => {
    // The first count starts the thread and does not wait the seconds its table takes to build.
    expect(await countTokens(["The capital of France is Paris.", "Hello"])).toEqual([8, 2]);
    await tokenizerReady();
    expect(await countTokens(["The capital of France is Paris.", "Hello"])).toEqual([7, 1]);
  });
});
