// The build's last step: an initdb'd PGlite data directory, archived into dist/ for new stores to
// start from (src/store/pglite-template.mjs). Skipped when dist/ already holds one for this PGlite.
import { access, mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { templatePath } from "../src/store/pglite-template.mjs";

const templatesDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist/templates");
const target = await templatePath(templatesDir);
try {
  await access(target);
} catch {
  const pg = new PGlite();
  await pg.waitReady;
  // A clean shutdown point: a copy then starts without replaying any WAL.
  await pg.exec("checkpoint");
  const archive = await pg.dumpDataDir("gzip");
  await pg.close();
  await mkdir(templatesDir, { recursive: true });
  await writeFile(`${target}.partial`, Buffer.from(await archive.arrayBuffer()));
  await rename(`${target}.partial`, target);
}
