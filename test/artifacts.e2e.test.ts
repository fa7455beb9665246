import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { AirlockError } from "../src/core/errors.js";
import { ArtifactWriter, INLINE_LIMIT_BYTES, LazyS3Store, LocalObjectStore } from "../src/governance/executions/artifact-store.js";
import { MEMORY_LIMIT, noopMemoryReader, postgresMemoryReader } from "../src/governance/executions/memory.js";
import { insertDirective } from "../src/store/queries/directives.js";
import { ensureRun, moveRun } from "../src/store/queries/executions.js";
import { startFakeS3, type FakeS3 } from "./fakes/s3.js";
import { removeTempDirs, tempDir } from "./support/process.js";
import { freshStore, STORE_KINDS, type TestStore } from "./support/stores.js";

/** Artifacts on the real store: small ones in Postgres, large ones in the object store, all read back whole. */
describe.each(STORE_KINDS)("artifacts and the memory reader on %s", (kind) => {
  let store: TestStore | undefined;
  let s3: FakeS3 | undefined;
  afterEach(async () => {
    await store?.cleanup();
    await s3?.close();
  });
  afterAll(removeTempDirs);

  async function directive(id: string, role = "ops"): Promise<void> {
    await insertDirective(store!.database.db, { id, role, type: "echo", payload: {}, issuedBy: "key_1", issuedByKind: "agent", objective: "o", scope: "test", constraints: {}, successMetrics: {}, budget: "$1", timeboxSeconds: null });
  }

  /** A checkpoint of at least `bytes` of JSON. */
  function bodyOf(bytes: number): Record<string, unknown> {
    return { notes: "n".repeat(bytes) };
  }

  it("keeps a 100 KB artifact in local files and a small one in Postgres, and reads both back", async () => {
    store = await freshStore(kind);
    const dir = await tempDir();
    const writer = new ArtifactWriter(store.database.db, new LocalObjectStore(dir));
    await directive("dir_a");
    const large = bodyOf(100 * 1024);
    await writer.write({ id: "art_large", directiveId: "dir_a", runId: null, type: "execution_checkpoint", body: large });
    await writer.write({ id: "art_small", directiveId: "dir_a", runId: null, type: "execution_checkpoint", body: { step: 1 } });

    const read = await writer.read("art_large");
    expect(read.uri).toMatch(/^file:\/\/.*\/dir_a\/art_large\.json$/);
    expect(read.sizeBytes).toBe(Buffer.byteLength(JSON.stringify(large)));
    expect(read.sizeBytes).toBeGreaterThan(100 * 1024);
    expect(read.body).toEqual(large);
    expect(existsSync(fileURLToPath(read.uri))).toBe(true);
    expect(path.dirname(path.dirname(fileURLToPath(read.uri)))).toBe(dir);
    expect(await writer.read("art_small")).toMatchObject({ uri: "pg:artifacts/art_small", body: { step: 1 }, sizeBytes: 10 });

    // Written once: a replayed step writing the same id leaves the first as it was.
    await writer.write({ id: "art_small", directiveId: "dir_a", runId: null, type: "execution_checkpoint", body: { step: 2 } });
    expect((await writer.read("art_small")).body).toEqual({ step: 1 });
    await expect(writer.read("art_missing")).rejects.toMatchObject({ code: "not_found" });
  });

  it("refuses an artifact over 10 MB and stores nothing of it", async () => {
    store = await freshStore(kind);
    const dir = await tempDir();
    const writer = new ArtifactWriter(store.database.db, new LocalObjectStore(dir));
    await directive("dir_b");
    const refused = await writer.write({ id: "art_huge", directiveId: "dir_b", runId: null, type: "execution_checkpoint", body: bodyOf(10 * 1024 * 1024 + 1) }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(AirlockError);
    expect((refused as AirlockError).message).toMatch(/^an artifact may hold at most 10485760 bytes; this one has \d+$/);
    await expect(writer.read("art_huge")).rejects.toMatchObject({ code: "not_found" });
    expect(existsSync(path.join(dir, "dir_b"))).toBe(false);
  });

  it("puts large artifacts in S3-compatible storage, signed, and reads them back", async () => {
    store = await freshStore(kind);
    s3 = await startFakeS3();
    const objects = new LazyS3Store({ endpoint: s3.url, region: "us-east-1", bucket: "airlock-test", prefix: "runs/", accessKeyId: "AKIAFAKE", secretAccessKey: "fake-secret", forcePathStyle: true });
    const writer = new ArtifactWriter(store.database.db, objects);
    await directive("dir_c");
    const large = bodyOf(INLINE_LIMIT_BYTES + 1);
    await writer.write({ id: "art_s3", directiveId: "dir_c", runId: null, type: "llm_usage", body: large });
    const read = await writer.read("art_s3");
    await objects.close();
    expect(read).toMatchObject({ uri: "s3://airlock-test/runs/dir_c/art_s3.json", body: large });
    expect(JSON.parse(s3.objects.get("airlock-test/runs/dir_c/art_s3.json")!.toString())).toEqual(large);
    expect(s3.requests.map((r) => [r.method, r.signed])).toEqual([
      ["PUT", true],
      ["GET", true],
    ]);
  });

  it("reads memory frozen and bounded, with no way back to the store", async () => {
    store = await freshStore(kind);
    const { db } = store.database;
    await directive("dir_old", "writer");
    await new Promise((resolve) => setTimeout(resolve, 5));
    await directive("dir_new", "writer");
    for (let i = 0; i < MEMORY_LIMIT + 5; i++) {
      const id = `run_${String(i).padStart(3, "0")}`;
      await ensureRun(db, { id, directiveId: `dir_${i}`, module: "echo", idempotencyKey: id, workflowId: `w${i}`, executorId: "x" });
      if (i % 2 === 0) await moveRun(db, id, "pending", "running");
    }
    const memory = postgresMemoryReader(db);
    expect((await memory.latestDirectiveForRole("writer"))?.id).toBe("dir_new");
    expect(await memory.latestDirectiveForRole("nobody")).toBeUndefined();
    const all = await memory.executionSummaries(1_000);
    expect(all).toHaveLength(MEMORY_LIMIT);
    expect(await memory.executionSummaries(3, "running")).toHaveLength(3);
    expect((await memory.executionSummaries(1_000, "running")).every((r) => r.status === "running")).toBe(true);
    expect(Object.isFrozen(all)).toBe(true);
    expect(Object.isFrozen(all[0])).toBe(true);
    expect(() => {
      (all[0] as { status: string }).status = "completed";
    }).toThrow(TypeError);
    expect(Object.keys(all[0]!).sort()).toEqual(["directiveId", "durationMs", "endedAt", "error", "id", "module", "moduleStatus", "startedAt", "status"]);
    expect(Object.keys(memory).sort()).toEqual(["artifactsByType", "executionSummaries", "latestDirectiveForRole"]);
    expect(await noopMemoryReader.executionSummaries(10)).toEqual([]);
    expect(await noopMemoryReader.latestDirectiveForRole("writer")).toBeUndefined();
    expect(await noopMemoryReader.artifactsByType("llm_usage", 10)).toEqual([]);
  });
});
