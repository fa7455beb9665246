import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { AirlockError } from "../../core/errors.js";
import type { ModuleStatus } from "./run-lifecycle.js";

/** What a module knows of the directive it carries out: frozen intent, never the issuer's secrets. */
export interface DirectiveBrief {
  id: string;
  role: string;
  type: string;
  payload: unknown;
  objective: string;
  scope: string;
  constraints: unknown;
  budget: string | null;
  issuedBy: string;
}

export interface ModuleContext {
  /** The same key means the same result, and never a second side effect. */
  readonly idempotencyKey: string;
  readonly runId: string;
  readonly directive: DirectiveBrief;
  /** Aborted when the directive's timebox runs out. */
  readonly signal: AbortSignal;
  /**
   * Does `effect` at most once under the idempotency key: a replayed step (after a crash or a restart)
   * gets the first result back and does not act again. Steps run at least once; this is what makes
   * their effects happen once. A module may have several effects: each call is kept apart by its order,
   * so a module must ask for them in the same order every time it runs.
   */
  once<T>(effect: () => Promise<T>): Promise<T>;
  /** Leaves an immutable artifact of this run. */
  record(type: "execution_checkpoint" | "llm_call" | "llm_usage", body: Record<string, unknown>): Promise<void>;
}

export interface ModuleResult {
  status: ModuleStatus;
  output?: unknown;
  error?: string;
}

/** One kind of work a directive may ask for. Modules carry out; they never decide whether to. */
export interface ExecutionModule {
  readonly name: string;
  execute(context: ModuleContext): Promise<ModuleResult>;
}

/** The modules a worker can run, by name (a directive's `type`). */
export class ModuleRegistry {
  private readonly modules = new Map<string, ExecutionModule>();

  constructor(modules: readonly ExecutionModule[] = []) {
    for (const module of modules) this.register(module);
  }

  register(module: ExecutionModule): void {
    if (this.modules.has(module.name)) throw new Error(`an execution module named "${module.name}" is already registered`);
    this.modules.set(module.name, module);
  }

  get(name: string): ExecutionModule | undefined {
    return this.modules.get(name);
  }

  names(): string[] {
    return [...this.modules.keys()];
  }
}

export const noopModule: ExecutionModule = {
  name: "noop",
  execute: async () => ({ status: "SUCCESS", output: {} }),
};

const echoPayload = z.looseObject({
  message: z.unknown().optional(),
  /** Answers this long after the echo is recorded, as slow work would. */
  delayMs: z.number().int().min(0).max(600_000).optional(),
});

/** Records its payload's message once, as its side effect, and answers with it. */
export const echoModule: ExecutionModule = {
  name: "echo",
  async execute(context) {
    const payload = parsePayload(echoPayload, context.directive.payload, "echo");
    const echoed = await context.once(async () => ({ echo: payload.message ?? null }));
    if (payload.delayMs) await sleep(payload.delayMs, undefined, { signal: context.signal });
    return { status: "SUCCESS", output: echoed };
  },
};

/** Fails on purpose, to exercise the failure path: FAILURE by default, ERROR (a thrown error) with `{"mode": "error"}`. */
export const failIntentionallyModule: ExecutionModule = {
  name: "fail_intentionally",
  async execute(context) {
    const payload = z.looseObject({ mode: z.enum(["failure", "error"]).optional() }).safeParse(context.directive.payload);
    if (payload.success && payload.data.mode === "error") throw new Error("failed intentionally (error)");
    return { status: "FAILURE", error: "failed intentionally" };
  },
};

export function parsePayload<T extends z.ZodType>(schema: T, payload: unknown, module: string): z.output<T> {
  const parsed = schema.safeParse(payload);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new AirlockError("invalid_request", `the ${module} module's payload is not valid: ${issue?.path.join(".") || "payload"}: ${issue?.message ?? "invalid"}`);
}
