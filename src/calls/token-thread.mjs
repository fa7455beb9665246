// @ts-check
/**
 * The tokenizer on its own thread. Building o200k_base's table takes a second or two of CPU, and
 * counting a long text tens of milliseconds: on the gateway's thread either would stall every call
 * in flight. Here the main thread only sends texts and receives counts.
 *
 * Plain JavaScript on purpose, like the PGlite thread: a worker cannot load TypeScript through a
 * development loader, and this file must run the same way from src/ (tests) and dist/ (the build).
 */
import { parentPort } from "node:worker_threads";
import { Tiktoken } from "js-tiktoken/lite";
import o200k from "js-tiktoken/ranks/o200k_base";

const tokenizer = new Tiktoken(o200k);
// Counts are asked for only once the table is built: one asked before would wait for it (seconds).
parentPort?.postMessage({ ready: true });

parentPort?.on("message", (/** @type {{ id: number, texts: string[] }} */ message) => {
  // Text that looks like a special token (`<|endoftext|>`) is counted as the text it is.
  const counts = message.texts.map((text) => (text === "" ? 0 : tokenizer.encode(text, [], []).length));
  parentPort?.postMessage({ id: message.id, counts });
});
