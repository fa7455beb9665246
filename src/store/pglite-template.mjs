// @ts-check
/**
 * A PGlite data directory straight after initdb, made once by the build (scripts/make-pglite-template.mjs)
 * and shipped in dist/. A new store, on disk or in memory, starts as a copy of it: initdb costs about
 * 3.3 s of one core, the copy under 1 s (docs/performance-findings.md#startup). It depends only on the PGlite
 * build that made it, so its name carries PGlite's version, and a store whose PGlite finds no template
 * of its own version runs initdb as before.
 *
 * Plain JavaScript: the build script and the PGlite thread (pglite-thread.mjs) load it as it is.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

/** The installed PGlite's version, read from the package.json above its entry point (which its exports do not list). */
export async function pgliteVersion() {
  let dir = path.dirname(createRequire(import.meta.url).resolve("@electric-sql/pglite"));
  for (;;) {
    try {
      const manifest = JSON.parse(await readFile(path.join(dir, "package.json"), "utf8"));
      if (manifest.name === "@electric-sql/pglite") return String(manifest.version);
    } catch {
      // not this directory
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("cannot find @electric-sql/pglite's package.json");
    dir = parent;
  }
}

/**
 * Where the template for the installed PGlite lives in `templatesDir`.
 * @param {string} templatesDir
 */
export async function templatePath(templatesDir) {
  return path.join(templatesDir, `pglite-initdb-${await pgliteVersion()}.tar.gz`);
}

/**
 * The template as PGlite's `loadDataDir` takes it, or undefined when there is none for this PGlite.
 * @param {string | undefined} templatesDir
 * @returns {Promise<Blob | undefined>}
 */
export async function readTemplate(templatesDir) {
  if (!templatesDir) return undefined;
  try {
    return new Blob([await readFile(await templatePath(templatesDir))], { type: "application/x-gzip" });
  } catch {
    return undefined;
  }
}
