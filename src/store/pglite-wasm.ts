import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { setFlagsFromString } from "node:v8";

/**
 * PGlite's WebAssembly, compiled once per process and given to every PGlite thread it starts (the
 * store's, the workflow engine's, one per store that a test opens). A compiled module is V8's one copy
 * of the code: a thread handed it instantiates it, where a thread left to itself compiled all of
 * PGlite again. Measured here (2 cores, 8 opens in a row, two runs each): an in-memory store opened
 * from an archive took 575 ms and 0.80 s of CPU with the shared module, 622–681 ms and 0.89–0.97 s of
 * CPU with each thread compiling its own.
 */
let compiled: Promise<CompiledWasm | undefined> | undefined;

/** A `WebAssembly.Module`. Node has WebAssembly, and Node's types leave it out (its declarations are in lib.dom). */
export type CompiledWasm = object;

const { compile: compileWasm } = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<CompiledWasm> } }).WebAssembly;

/**
 * V8 runs WebAssembly first from a quick baseline compile, and recompiles a function with its
 * optimizing compiler once it has run enough: its tiering budget, roughly the bytes of code it may
 * execute first (V8's default 1.8 M). The budget is V8's, for the whole process, and read as a
 * module compiles, so the process's use of the store sets it before the first compile:
 * - `server` (a gateway, the library): with the default, opening the store and its first statements
 *   already send PGlite's hottest functions to the optimizer, hundreds of ms of compile time on
 *   background threads that, on a small machine, starve the store's thread and the gateway's while
 *   they start. A hundred times the default moves that work to the first seconds of traffic; the code
 *   reached in steady state is the same (docs/performance-findings.md#startup).
 * - `command` (a CLI command that opens the store, runs a few statements and exits): even a hundred
 *   times the default sent three of PGlite's largest functions to the optimizer as each command
 *   ended, 0.6 s of CPU and 60–90 MB of compiler memory for code that never ran. A thousand times
 *   the default leaves a command's statements to the baseline code, and a long one (a report over
 *   a large ledger) is still optimized.
 */
const TIERING_BUDGET = { server: 180_000_000, command: 2_000_000_000 } as const;

let use: keyof typeof TIERING_BUDGET = "server";

/** Says how this process uses the store; it counts only before the store's first open (see TIERING_BUDGET). */
export function compilePgliteFor(how: keyof typeof TIERING_BUDGET): void {
  use = how;
}

/** The compiled module, or undefined when it could not be compiled here: each thread's PGlite then compiles its own, as it would by default. */
export function compiledPglite(): Promise<CompiledWasm | undefined> {
  compiled ??= compile();
  return compiled;
}

async function compile(): Promise<CompiledWasm | undefined> {
  setFlagsFromString(`--wasm-tiering-budget=${TIERING_BUDGET[use]}`);
  try {
    // pglite.wasm sits beside PGlite's entry points, where PGlite itself loads it from.
    const entry = createRequire(import.meta.url).resolve("@electric-sql/pglite");
    return await compileWasm(await readFile(path.join(path.dirname(entry), "pglite.wasm")));
  } catch {
    return undefined;
  }
}
