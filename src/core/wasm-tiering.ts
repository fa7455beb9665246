import { setFlagsFromString } from "node:v8";

/**
 * V8 runs WebAssembly first from a quick baseline compile, and recompiles a function with its
 * optimizing compiler once it has run enough: its tiering budget, roughly the bytes of code it may
 * execute first (V8's default 1.8 M). The budget is V8's, for the whole process, and read as each
 * module compiles (PGlite's, and llhttp's, the HTTP parser behind Node's `fetch`):
 * - `server` (a gateway, the library): with the default, opening the store and its first statements
 *   already send PGlite's hottest functions to the optimizer, hundreds of ms of compile time on
 *   background threads that, on a small machine, starve the store's thread and the gateway's while
 *   they start. A hundred times the default moves that work to the first seconds of traffic; the code
 *   reached in steady state is the same (docs/performance-findings.md#startup).
 * - `command` (a CLI command: a few statements or requests, then exit): even a hundred times the
 *   default sent three of PGlite's largest functions to the optimizer as a command ended, 0.6 s of
 *   CPU and 60–90 MB of compiler memory; and with the default, one `fetch` sent llhttp's parser there,
 *   and Node waits for V8's background compiles before it exits, about 0.2 s. A thousand times the
 *   default leaves a command's work to the baseline code, and a long one (a report over a large
 *   ledger) is still optimized.
 */
const TIERING_BUDGET = { server: 180_000_000, command: 2_000_000_000 } as const;

export type WasmUse = keyof typeof TIERING_BUDGET;

let declared: WasmUse | undefined;

/** Sets the budget for the WebAssembly this process compiles from now on. */
export function tierWasmFor(use: WasmUse): void {
  declared = use;
  setFlagsFromString(`--wasm-tiering-budget=${TIERING_BUDGET[use]}`);
}

/** The server's budget, unless the process has said how it uses WebAssembly. */
export function tierWasmByDefault(): void {
  if (declared === undefined) tierWasmFor("server");
}
