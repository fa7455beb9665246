// The dashboard's client is served as written (plain JavaScript, no bundler): the build copies it beside the compiled gateway.
import { cp } from "node:fs/promises";

await cp(new URL("../src/dashboard/public", import.meta.url), new URL("../dist/dashboard/public", import.meta.url), { recursive: true });
