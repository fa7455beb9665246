import { afterEach, describe, expect, it, vi } from "vitest";
import { resolveConfig } from "../src/config/load.js";
import { ControlPlane } from "../src/control-plane.js";
import { createAirlock, type ExecutionModule } from "../src/index.js";
import { freshStore, STORE_KINDS } from "./support/stores.js";
import { waitFor } from "./support/wait.js";

// Each test starts the durable engine (on PGlite, with its own store): slower than most, and slower still on a busy machine.
vi.setConfig({ testTimeout: 90_000 });

/** A model is required; no call is made to it here. */
const MINIMAL = { providers: { oai: { type: "openai-compatible" as const, baseUrl: "http://127.0.0.1:9", apiKey: "k" } }, models: [{ id: "oai/gpt-4o-mini" }] };
const ADMIN = { keyId: "key_ops", name: "ops", kind: "admin" as const, userId: null, teamId: null, orgId: null };

/** Execution modules an application adds, run by the same orchestrator as the built-in ones; memory read back through the library. */
describe.each(STORE_KINDS)("execution modules in process on %s", (kind) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("runs an application's module with an idempotency key, its checkpoints kept, and reads the run from memory", async () => {
    const store = await freshStore(kind);
    cleanups.push(() => store.cleanup());
    const seen: Array<{ key: string; objective: string }> = [];
    const tickets: ExecutionModule = {
      name: "open_ticket",
      async execute(context) {
        seen.push({ key: context.idempotencyKey, objective: context.directive.objective });
        const ticket = await context.once(async () => ({ ticket: `T-${seen.length}` }));
        await context.record("execution_checkpoint", { step: "ticket opened", ticket: ticket.ticket });
        return { status: "SUCCESS", output: ticket };
      },
    };
    const config = resolveConfig({ ...MINIMAL, governance: { policy: { autoApprove: true, tools: ["open_ticket"] }, execution: { pollIntervalMs: 200 } } }, "test");
    const plane = await ControlPlane.create({ config, database: store.database, modules: [tickets], executorId: "in-process" });
    cleanups.push(() => plane.close());

    const draft = await plane.directives.create({ role: "support", type: "open_ticket", objective: "Open a ticket for the outage", scope: "test", budget: "$1" }, ADMIN);
    expect((await plane.directives.propose(draft.id, ADMIN)).status).toBe("approved");
    const done = await waitFor(() => plane.directives.get(draft.id), (d) => d.status === "complete", 20_000);
    expect(done.value.artifacts!.map((a) => a.type)).toEqual(["policy_evaluation", "execution_start", "execution_checkpoint", "execution_checkpoint", "execution_end"]);

    const [summary] = await plane.governance.memory.executionSummaries(10, "completed");
    expect(summary).toMatchObject({ directiveId: draft.id, module: "open_ticket", status: "completed", moduleStatus: "SUCCESS", error: null });
    expect(seen).toEqual([{ key: summary!.id, objective: "Open a ticket for the outage" }]);
    expect((await plane.governance.executions.getRun(summary!.id)).output).toEqual({ ticket: "T-1" });
    expect((await plane.governance.memory.latestDirectiveForRole("support"))?.status).toBe("complete");
    const checkpoints = await plane.governance.memory.artifactsByType("execution_checkpoint", 10);
    expect(checkpoints.map((a) => a.body)).toContainEqual({ step: "ticket opened", ticket: "T-1" });
  });

  it("runs a directive approved on an instance that does not execute, told by its announcement rather than found by a poll", async () => {
    const store = await freshStore(kind);
    cleanups.push(() => store.cleanup());
    const worker = await ControlPlane.create({ config: resolveConfig(MINIMAL, "test"), database: store.database, executorId: "worker" });
    cleanups.push(() => worker.close());
    const approverConfig = resolveConfig({ ...MINIMAL, governance: { policy: { autoApprove: true }, execution: { enabled: false } } }, "test");
    const approver = await ControlPlane.create({ config: approverConfig, database: store.database, executorId: "approver" });
    cleanups.push(() => approver.close());

    const draft = await approver.directives.create({ role: "ops", type: "echo", objective: "Echo across instances", scope: "test", budget: "$1" }, ADMIN);
    const approvedAt = performance.now();
    expect((await approver.directives.propose(draft.id, ADMIN)).status).toBe("approved");
    // The worker's look for approved directives runs every 30 s: done well before that, it was the announcement.
    const done = await waitFor(() => worker.directives.get(draft.id), (d) => d.status === "complete", 20_000);
    expect(performance.now() - approvedAt).toBeLessThan(20_000);
    const [run] = await worker.governance.memory.executionSummaries(10, "completed");
    expect(run).toMatchObject({ directiveId: draft.id, module: "echo", status: "completed", moduleStatus: "SUCCESS" });
    expect(done.value.artifacts!.map((a) => a.type)).toContain("execution_end");
  });

  it("ends a run failed, never left running, when what the module answered cannot be stored", async () => {
    const store = await freshStore(kind);
    cleanups.push(() => store.cleanup());
    const unstorable: ExecutionModule = { name: "scrape", execute: async () => ({ status: "SUCCESS", output: { page: "binary\u0000junk" } }) };
    const config = resolveConfig({ ...MINIMAL, governance: { policy: { autoApprove: true, tools: ["scrape"] }, execution: { pollIntervalMs: 200 } } }, "test");
    const plane = await ControlPlane.create({ config, database: store.database, modules: [unstorable], executorId: "in-process" });
    cleanups.push(() => plane.close());
    const draft = await plane.directives.create({ role: "research", type: "scrape", objective: "Read the page", scope: "test", budget: "$1" }, ADMIN);
    await plane.directives.propose(draft.id, ADMIN);
    const done = await waitFor(() => plane.directives.get(draft.id), (d) => d.status === "aborted", 20_000);
    expect(done.value.artifacts!.map((a) => a.type)).toEqual(["policy_evaluation", "execution_start", "execution_checkpoint", "execution_end"]);
    const [run] = await plane.governance.memory.executionSummaries(10);
    expect(run).toMatchObject({ status: "failed", moduleStatus: "ERROR", error: "the module's output holds a NUL character (\\u0000), which the store cannot keep" });
  });

  it("does each of a module's effects once, each with its own result", async () => {
    const store = await freshStore(kind);
    cleanups.push(() => store.cleanup());
    const done: string[] = [];
    const notify: ExecutionModule = {
      name: "notify_both",
      async execute(context) {
        const email = await context.once(async () => (done.push("email"), { sent: "email" }));
        const slack = await context.once(async () => (done.push("slack"), { posted: "slack" }));
        return { status: "SUCCESS", output: { email, slack } };
      },
    };
    const config = resolveConfig({ ...MINIMAL, governance: { policy: { autoApprove: true, tools: ["notify_both"] }, execution: { pollIntervalMs: 200 } } }, "test");
    const plane = await ControlPlane.create({ config, database: store.database, modules: [notify], executorId: "in-process" });
    cleanups.push(() => plane.close());
    const draft = await plane.directives.create({ role: "ops", type: "notify_both", objective: "Tell people", scope: "test", budget: "$1" }, ADMIN);
    await plane.directives.propose(draft.id, ADMIN);
    await waitFor(() => plane.directives.get(draft.id), (d) => d.status === "complete", 20_000);
    const [summary] = await plane.governance.memory.executionSummaries(10);
    expect(done).toEqual(["email", "slack"]);
    expect((await plane.governance.executions.getRun(summary!.id)).output).toEqual({ email: { sent: "email" }, slack: { posted: "slack" } });
  });

  it("refuses a module name that is taken", async () => {
    const store = await freshStore(kind);
    cleanups.push(() => store.cleanup());
    const config = resolveConfig(MINIMAL, "test");
    const clash: ExecutionModule = { name: "echo", execute: async () => ({ status: "SUCCESS" }) };
    await expect(ControlPlane.create({ config, database: store.database, modules: [clash] })).rejects.toThrow('an execution module named "echo" is already registered');
  });
});

describe("memory through the library", () => {
  it("reads nothing yet from a new store, frozen", async () => {
    const airlock = createAirlock({ config: MINIMAL, inMemory: true });
    try {
      const runs = await airlock.memory.executionSummaries(10);
      expect(runs).toEqual([]);
      expect(Object.isFrozen(airlock.memory)).toBe(true);
      expect(await airlock.memory.latestDirectiveForRole("anyone")).toBeUndefined();
    } finally {
      await airlock.close();
    }
  });
});
