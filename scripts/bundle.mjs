// Bundles what `airlock start` loads, after tsc has written dist/. Node 20 has no module compile
// cache, and resolving, reading and compiling some 700 files one by one was about a third of the
// gateway's startup (docs/performance-findings.md#startup). The library entry (dist/index.js) stays as tsc
// wrote it: an application that imports Airlock bundles it its own way.
import { rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { bundleCli, common, unbundled } from "./cli-bundle.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");
const bundleDir = path.join(dist, "bundle");

// An earlier build's chunks would otherwise stay beside the new ones.
await rm(bundleDir, { recursive: true, force: true });
await bundleCli({ entry: path.join(dist, "cli/main.js"), ownDir: dist, outDir: bundleDir });

// The embedded store's thread boots while the gateway loads. Its bundle replaces the copy tsc wrote,
// so the library and the CLI start the same file. It is plain JavaScript, read from src/.
await build({ ...common, entryPoints: [path.join(root, "src/store/pglite-thread.mjs")], outfile: path.join(dist, "store/pglite-thread.mjs"), allowOverwrite: true, plugins: [unbundled] });
