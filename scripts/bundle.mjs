// Bundles what `airlock start` loads, after tsc has written dist/. Node 20 has no module compile
// cache, and resolving, reading and compiling some 700 files one by one was about a third of the
// gateway's startup (docs/performance.md, "Startup"). The library entry (dist/index.js) stays as tsc
// wrote it: an application that imports Airlock bundles it its own way.
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");
const bundleDir = path.join(dist, "bundle");

/**
 * Packages left to Node's own loader. Those loaded only when a feature is used (the workflow engine,
 * S3 archives, the tracing SDK, audio metadata) would only add to the bundle's parse time. PGlite
 * finds its WebAssembly beside its own files, pino starts transports from files beside its own, and
 * pg-native is optional.
 */
const UNBUNDLED = [/^@dbos-inc\//, /^@aws-sdk\//, /^@smithy\//, /^@opentelemetry\/(?!api$)/, /^@electric-sql\//, /^music-metadata$/, /^pino(-|$)/, /^pg-native$/];

// ESM output has no `require`; the CommonJS packages inside the bundle and the unbundled ones need one.
const requireShim = 'import { createRequire as __airlockCreateRequire } from "node:module"; const require = __airlockCreateRequire(import.meta.url);';

const unbundled = {
  name: "unbundled",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (UNBUNDLED.some((re) => re.test(args.path)) ? { path: args.path, external: true } : undefined));
  },
};

/**
 * Our modules find files beside themselves through `import.meta.url` (the dashboard's files, the
 * migrations, the worker threads). Inside a bundle that URL would be the bundle's, so each module's
 * own URL is put back in its place, relative to the output directory.
 */
function ownUrls(outDir) {
  return {
    name: "own-urls",
    setup(b) {
      b.onLoad({ filter: /\.m?js$/ }, async (args) => {
        if (!args.path.startsWith(dist + path.sep)) return undefined;
        const text = await readFile(args.path, "utf8");
        if (!text.includes("import.meta.url")) return undefined;
        const own = `new URL(${JSON.stringify(path.relative(outDir, args.path).split(path.sep).join("/"))}, import.meta.url).href`;
        return { contents: text.replaceAll("import.meta.url", own), loader: "js" };
      });
    },
  };
}

// Minified without renaming: a smaller source is parsed faster and kept in memory for good (about
// 5 MB less at rest), while stack traces still name every function. `--enable-source-maps` maps
// them back to dist/.
const common = { bundle: true, platform: "node", format: "esm", target: "node20", logLevel: "warning", banner: { js: requireShim }, minifyWhitespace: true, minifySyntax: true, sourcemap: "linked" };

// The CLI. Commands load what they use on demand, and each such import becomes a chunk of its own.
// Chunk names are content hashes: an earlier build's would otherwise stay beside the new ones.
await rm(bundleDir, { recursive: true, force: true });
await build({
  ...common,
  entryPoints: { airlock: path.join(dist, "cli/main.js") },
  outdir: bundleDir,
  splitting: true,
  chunkNames: "chunk-[hash]",
  plugins: [unbundled, ownUrls(bundleDir)],
});

// The embedded store's thread boots while the gateway loads. Its bundle replaces the copy tsc wrote,
// so the library and the CLI start the same file. It is plain JavaScript, read from src/.
await build({ ...common, entryPoints: [path.join(root, "src/store/pglite-thread.mjs")], outfile: path.join(dist, "store/pglite-thread.mjs"), allowOverwrite: true, plugins: [unbundled] });
