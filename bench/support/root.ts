import path from "node:path";
import { fileURLToPath } from "node:url";

/** The checkout's root. `fileURLToPath`, not a URL's `pathname`, which keeps a space or an accent percent-encoded. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
