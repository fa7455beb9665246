import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { tierWasmByDefault } from "../core/wasm-tiering.js";

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

/** The compiled module, or undefined when it could not be compiled here: each thread's PGlite then compiles its own, as it would by default. */
export function compiledPglite(): Promise<CompiledWasm | undefined> {
  compiled ??= compile();
  return compiled;
}

async function compile(): Promise<CompiledWasm | undefined> {
  // V8 reads its tiering budget as a module compiles (src/core/wasm-tiering.ts).
  tierWasmByDefault();
  try {
    // pglite.wasm sits beside PGlite's entry points, where PGlite itself loads it from.
    const entry = createRequire(import.meta.url).resolve("@electric-sql/pglite");
    return await compileWasm(await readFile(path.join(path.dirname(entry), "pglite.wasm")));
  } catch {
    return undefined;
  }
}
