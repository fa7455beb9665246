import type { AirlockConfig, OperationConfig } from "../config/schema.js";
import { checkRoutes, isTier, type RouteIssue, type RouteWorld } from "../config/routes.js";
import { AirlockError } from "../core/errors.js";
import { compileOutputSchema, type CompiledSchema } from "../structured/schema.js";
import type { RetryPolicy } from "./retry.js";
import { compileTemplate, type CompiledTemplate } from "./template.js";

/** An operation's route, compiled once per change so that a call only reads it. */
export interface Operation extends OperationConfig {
  name: string;
  /** The targets in order, operations expanded in place: catalog model ids and tier names. */
  chain: readonly string[];
  retryPolicy: RetryPolicy;
  schema: CompiledSchema | undefined;
  templates: { system?: CompiledTemplate; user?: CompiledTemplate };
  /** Set when a stored route no longer fits the configuration: its calls are refused with this. */
  problem: string | undefined;
}

/**
 * Compiles every route. A route that cannot be compiled is kept with its `problem`, so that its calls
 * fail loudly as `misconfigured` instead of the operation vanishing into `not_found`.
 */
export function compileOperations(
  config: AirlockConfig,
  world: RouteWorld,
  routes: ReadonlyMap<string, OperationConfig>,
  /** Routes already known to be unusable (a stored definition that no longer parses). */
  known: ReadonlyMap<string, string> = new Map(),
): Map<string, Operation> {
  const problems = new Map<string, string>(known);
  for (const issue of checkRoutes(world, routes)) {
    if (!problems.has(issue.operation)) problems.set(issue.operation, issue.field ? `${issue.field}: ${issue.message}` : issue.message);
  }
  const extras = new Map<string, Pick<Operation, "schema" | "templates">>();
  for (const [name, route] of routes) {
    try {
      extras.set(name, compileRouteExtras(route));
    } catch (err) {
      if (!problems.has(name)) problems.set(name, err instanceof Error ? err.message : String(err));
    }
  }
  propagateProblems(routes, problems);
  const operations = new Map<string, Operation>();
  for (const [name, route] of routes) {
    const problem = problems.get(name);
    operations.set(name, {
      ...route,
      name,
      chain: problem ? [] : expandChain(name, routes, world),
      retryPolicy: mergeRetry(config.retry, route.retry),
      ...(extras.get(name) ?? { schema: undefined, templates: {} }),
      problem,
    });
  }
  return operations;
}

/** A route that falls back to an unusable one is unusable too: its chain would silently be shorter. */
function propagateProblems(routes: ReadonlyMap<string, OperationConfig>, problems: Map<string, string>): void {
  for (let changed = true; changed; ) {
    changed = false;
    for (const [name, route] of routes) {
      if (problems.has(name)) continue;
      const broken = [route.model, ...route.fallbacks].find((ref) => ref !== name && routes.has(ref) && problems.has(ref));
      if (broken) {
        problems.set(name, `it falls back to operation "${broken}", which cannot be served`);
        changed = true;
      }
    }
  }
}

/**
 * Refuses a change (a save or a delete of `changed`) that would make any route unusable, with
 * `invalid_request`. Routes that were already unusable before the change do not block it.
 */
export function assertChangeSaves(world: RouteWorld, before: ReadonlyMap<string, OperationConfig>, after: ReadonlyMap<string, OperationConfig>, changed: string): void {
  const key = (issue: RouteIssue) => `${issue.operation}\u0000${issue.field ?? ""}\u0000${issue.message}`;
  const existing = new Set(checkRoutes(world, before).map(key));
  const introduced = checkRoutes(world, after).filter((issue) => !existing.has(key(issue)));
  const first = introduced.find((issue) => issue.operation === changed) ?? introduced[0];
  if (first) {
    const where = first.operation === changed ? "" : ` (it would break route "${first.operation}")`;
    throw new AirlockError("invalid_request", `route "${changed}": ${first.field ? `${first.field}: ` : ""}${first.message}${where}`, { param: first.field ?? null });
  }
  const route = after.get(changed);
  if (!route) return;
  try {
    compileRouteExtras(route);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new AirlockError("invalid_request", `route "${changed}": ${message}`, { param: err instanceof AirlockError ? err.param : null });
  }
}

/** Compiles a route's output schema and prompt templates; throws on a malformed one. */
export function compileRouteExtras(route: OperationConfig): Pick<Operation, "schema" | "templates"> {
  const schema = route.outputSchema === undefined ? undefined : compileOutputSchema(route.outputSchema);
  const templates: Operation["templates"] = {};
  if (route.prompt?.system) templates.system = compileTemplate(route.prompt.system);
  if (route.prompt?.user) templates.user = compileTemplate(route.prompt.user);
  return { schema, templates };
}

/** The first route whose output schema or templates do not compile, as `operations.<name>: <why>`; a typo fails at start, not on the first call. */
export function routeExtrasProblem(routes: ReadonlyMap<string, OperationConfig>): string | undefined {
  for (const [name, route] of routes) {
    try {
      compileRouteExtras(route);
    } catch (err) {
      return `operations.${name}: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  return undefined;
}

/** An operation named as a target stands for its whole chain, in place. Validation has ruled out cycles. */
function expandChain(name: string, routes: ReadonlyMap<string, OperationConfig>, world: RouteWorld, seen: Set<string> = new Set()): string[] {
  const route = routes.get(name);
  if (!route || seen.has(name)) return [];
  seen.add(name);
  const chain: string[] = [];
  for (const ref of [route.model, ...route.fallbacks]) {
    if (!world.modelIds.has(ref) && !isTier(ref) && routes.has(ref)) chain.push(...expandChain(ref, routes, world, seen));
    else chain.push(ref);
  }
  seen.delete(name);
  return chain;
}

/** The operation's own settings over the top-level ones, field by field. */
function mergeRetry(base: RetryPolicy, own: OperationConfig["retry"]): RetryPolicy {
  if (!own) return base;
  return {
    maxAttempts: own.maxAttempts ?? base.maxAttempts,
    baseDelayMs: own.baseDelayMs ?? base.baseDelayMs,
    maxDelayMs: own.maxDelayMs ?? base.maxDelayMs,
    maxRetryAfterMs: own.maxRetryAfterMs ?? base.maxRetryAfterMs,
  };
}
