// The CLI bundle: one file (and its on-demand chunks) for `airlock` to load instead of hundreds.
// The build makes it from dist/ (scripts/bundle.mjs); the tests make one from src/ once per run
// (test/support/global-setup.ts), so each CLI or gateway process they start loads in about half the
// CPU time that compiling every module through tsx took.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { build } from "esbuild";

/**
 * Packages left to Node's own loader. Those loaded only when a feature is used (the workflow engine,
 * S3 archives, the tracing SDK, audio metadata) would only add to the bundle's parse time. PGlite
 * finds its WebAssembly beside its own files, pino starts transports from files beside its own, and
 * pg-native is optional.
 */
const UNBUNDLED = [/^@dbos-inc\//, /^@aws-sdk\//, /^@smithy\//, /^@opentelemetry\/(?!api$)/, /^@electric-sql\//, /^music-metadata$/, /^pino(-|$)/, /^pg-native$/];

// ESM output has no `require`; the CommonJS packages inside the bundle and the unbundled ones need one.
const requireShim = 'import { createRequire as __airlockCreateRequire } from "node:module"; const require = __airlockCreateRequire(import.meta.url);';

export const unbundled = {
  name: "unbundled",
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (UNBUNDLED.some((re) => re.test(args.path)) ? { path: args.path, external: true } : undefined));
  },
};

/**
 * Our modules find files beside themselves through `import.meta.url` (the dashboard's files, the
 * migrations, the worker threads). Inside a bundle that URL would be the bundle's, so each module's
 * own URL (under `ownDir`) is put back in its place, relative to the output directory.
 */
function ownUrls(ownDir, outDir) {
  return {
    name: "own-urls",
    setup(b) {
      b.onLoad({ filter: /\.(m?js|ts)$/ }, async (args) => {
        if (!args.path.startsWith(ownDir + path.sep)) return undefined;
        const text = await readFile(args.path, "utf8");
        if (!text.includes("import.meta.url")) return undefined;
        const own = `new URL(${JSON.stringify(path.relative(outDir, args.path).split(path.sep).join("/"))}, import.meta.url).href`;
        return { contents: text.replaceAll("import.meta.url", own), loader: args.path.endsWith(".ts") ? "ts" : "js" };
      });
    },
  };
}

// Minified without renaming: a smaller source is parsed faster and kept in memory for good (about
// 5 MB less at rest), while stack traces still name every function. `--enable-source-maps` maps
// them back to the sources.
export const common = { bundle: true, platform: "node", format: "esm", target: "node20", logLevel: "warning", banner: { js: requireShim }, minifyWhitespace: true, minifySyntax: true, sourcemap: "linked" };

/**
 * Bundles the CLI's `entry` (dist/cli/main.js or src/cli/main.ts) into `outDir`/airlock.js. Commands
 * load what they use on demand, and each such import becomes a chunk of its own, named by its content.
 * `outDir` must lie inside the package, so that the unbundled packages resolve from it. With `library`
 * (the tests' src/index.ts), the library's entry is bundled beside it as `outDir`/library.js, for the
 * scripts that the tests run as applications.
 */
export async function bundleCli({ entry, ownDir, outDir, library }) {
  await build({
    ...common,
    entryPoints: { airlock: entry, ...(library ? { library } : {}) },
    outdir: outDir,
    splitting: true,
    chunkNames: "chunk-[hash]",
    plugins: [unbundled, ownUrls(ownDir, outDir)],
  });
}
