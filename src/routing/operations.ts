import type { AirlockConfig, OperationConfig } from "../config/schema.js";
import { checkRoutes, isTier, type RouteWorld } from "../config/routes.js";
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
  const operations = new Map<string, Operation>();
  for (const [name, route] of routes) {
    let compiled: Pick<Operation, "schema" | "templates"> = { schema: undefined, templates: {} };
    let problem = problems.get(name);
    try {
      compiled = compileExtras(route);
    } catch (err) {
      problem ??= err instanceof Error ? err.message : String(err);
    }
    operations.set(name, {
      ...route,
      name,
      chain: problem ? [] : expandChain(name, routes, world),
      retryPolicy: { ...config.retry, ...route.retry },
      ...compiled,
      problem,
    });
  }
  return operations;
}

/** Validates one route as the admin API would save it, against the rest: throws `invalid_request`. */
export function assertRouteSaves(world: RouteWorld, routes: ReadonlyMap<string, OperationConfig>, name: string): void {
  const issues = checkRoutes(world, routes).filter((issue) => issue.operation === name || issue.message.startsWith("fallback cycle"));
  const first = issues[0];
  if (first) throw new AirlockError("invalid_request", `route "${name}": ${first.field ? `${first.field}: ` : ""}${first.message}`, { param: first.field ?? null });
  const route = routes.get(name);
  if (!route) return;
  try {
    compileExtras(route);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new AirlockError("invalid_request", `route "${name}": ${message}`, { param: err instanceof AirlockError ? err.param : null });
  }
}

function compileExtras(route: OperationConfig): Pick<Operation, "schema" | "templates"> {
  const schema = route.outputSchema === undefined ? undefined : compileOutputSchema(route.outputSchema);
  const templates: Operation["templates"] = {};
  if (route.prompt?.system) templates.system = compileTemplate(route.prompt.system);
  if (route.prompt?.user) templates.user = compileTemplate(route.prompt.user);
  return { schema, templates };
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
