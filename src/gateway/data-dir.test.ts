import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../core/logger.js";
import { ADMIN_KEY_FILE, generatedAdminKey, readAdminKeyFile } from "./data-dir.js";

let dir: string;
let logged: string;
const logger = () =>
  createLogger({
    destination: new Writable({
      write(chunk, _encoding, done) {
        logged += String(chunk);
        done();
      },
    }),
  });

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "airlock-data-dir-"));
  logged = "";
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe("the generated admin key", () => {
  it("is made once, saved readable by its owner alone, and kept across starts without being logged", async () => {
    const first = await generatedAdminKey(dir, logger());
    expect(first).toMatch(/^sk-al-admin-[A-Za-z0-9_-]{32}$/);
    const file = path.join(dir, ADMIN_KEY_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readAdminKeyFile(dir)).toBe(first);
    expect(await generatedAdminKey(dir, logger())).toBe(first);
    expect(logged).toContain(file);
    expect(logged).not.toContain(first);
  });

  it("replaces an empty key file instead of starting with no admin key", async () => {
    await writeFile(path.join(dir, ADMIN_KEY_FILE), " \n", { mode: 0o644 });
    expect(await readAdminKeyFile(dir)).toBeUndefined();
    const key = await generatedAdminKey(dir, logger());
    expect(key).toMatch(/^sk-al-admin-/);
    expect((await readFile(path.join(dir, ADMIN_KEY_FILE), "utf8")).trim()).toBe(key);
    expect((await stat(path.join(dir, ADMIN_KEY_FILE))).mode & 0o777).toBe(0o600);
    expect(await readAdminKeyFile(dir)).toBe(key);
  });
});
