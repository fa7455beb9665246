import { watch, type FSWatcher } from "node:fs";
import path from "node:path";
import type { Logger } from "../core/logger.js";
import { loadConfig } from "./load.js";

/** Editors write a file in several steps (truncate, write, rename): one read once they have settled. */
const SETTLE_MS = 200;

type FileState = "running" | "changed" | "invalid";

/**
 * Watches the configuration file a gateway started from, and says when it no longer matches what runs:
 * the file is read at start only, so an edit is in force after a restart, and one that would not load
 * would stop that restart. It applies nothing. The directory is watched, not the file, so a save that
 * renames a new file over the old one, or a Kubernetes ConfigMap's symlink swap, is still seen.
 */
export function watchConfigFile(file: string, runningHash: string, logger: Logger, env: NodeJS.ProcessEnv = process.env): { close(): void } {
  let state: FileState = "running";
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let reading = Promise.resolve();

  const check = async () => {
    let next: FileState;
    let fields: Record<string, unknown> = { config: file };
    try {
      const loaded = await loadConfig({ path: file, env });
      next = loaded.hash === runningHash ? "running" : "changed";
      fields = { ...fields, configHash: runningHash, fileHash: loaded.hash };
    } catch (err) {
      next = "invalid";
      // A ConfigError's message quotes no secret: names, paths and line numbers only.
      fields = { ...fields, problem: err instanceof Error ? err.message : String(err) };
    }
    if (closed || next === state) return;
    state = next;
    if (next === "changed") logger.warn(fields, "configuration file changed: restart the gateway to apply it");
    else if (next === "invalid") logger.error(fields, "configuration file changed and would not load; the running configuration stays");
    else logger.info(fields, "configuration file matches the running configuration again");
  };

  let watcher: FSWatcher | undefined;
  try {
    const name = path.basename(file);
    watcher = watch(path.dirname(file), { persistent: false }, (_event, changed) => {
      // Other files in the directory are no concern; `..data` is the link a ConfigMap swaps.
      if (changed !== null && changed !== name && !changed.startsWith("..")) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        reading = reading.then(check, check);
      }, SETTLE_MS);
      timer.unref();
    });
    watcher.on("error", (err) => logger.debug({ err, config: file }, "configuration file watch ended"));
  } catch (err) {
    logger.debug({ err, config: file }, "configuration file is not watched");
  }
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
