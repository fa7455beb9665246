import { TIERS, type Tier } from "./tiers.js";

/** What a route may point at, as far as checking references needs to know. */
export interface RouteWorld {
  modelIds: ReadonlySet<string>;
  tiers: Readonly<Partial<Record<Tier, string>>>;
  /** Bare upstream ids that also name a model: a new route may not take one as its name. */
  aliases?: ReadonlySet<string>;
}

export interface RouteShape {
  model: string;
  fallbacks: readonly string[];
}

export interface RouteIssue {
  /** The operation the issue is in. */
  operation: string;
  /** `model`, or `fallbacks.N`, or undefined for the whole chain (a cycle). */
  field: string | undefined;
  message: string;
}

export function isTier(name: string): name is Tier {
  return (TIERS as readonly string[]).includes(name);
}

/**
 * Checks every route against the models, tiers and the other routes: each target must name a model,
 * a mapped tier or an operation, and no chain may lead back to itself through operations.
 */
export function checkRoutes(world: RouteWorld, routes: ReadonlyMap<string, RouteShape>): RouteIssue[] {
  const issues: RouteIssue[] = [];
  for (const [name, route] of routes) {
    if (world.modelIds.has(name)) issues.push({ operation: name, field: undefined, message: `operation "${name}" has the same name as a model` });
    targetsOf(route).forEach((ref, i) => {
      const field = i === 0 ? "model" : `fallbacks.${i - 1}`;
      if (ref === name) issues.push({ operation: name, field, message: `fallback cycle: ${name} → ${name}` });
      else if (!isKnownTarget(world, routes, ref)) issues.push({ operation: name, field, message: `unknown model, operation or unmapped tier "${ref}"` });
    });
  }
  for (const cycle of findCycles(routes)) {
    // Every member is named: none of them can be served while the loop stands.
    for (const member of new Set(cycle)) issues.push({ operation: member, field: undefined, message: `fallback cycle: ${cycle.join(" → ")}` });
  }
  return issues;
}

function targetsOf(route: RouteShape): string[] {
  return [route.model, ...route.fallbacks];
}

function isKnownTarget(world: RouteWorld, routes: ReadonlyMap<string, RouteShape>, ref: string): boolean {
  if (world.modelIds.has(ref)) return true;
  if (isTier(ref)) return world.tiers[ref] !== undefined;
  return routes.has(ref);
}

/**
 * Each cycle once, as the path that closes it (`a → b → a`). Self-references are reported by the
 * caller with the field they are in. Models win over operations of the same name, as in resolution.
 */
function findCycles(routes: ReadonlyMap<string, RouteShape>): string[][] {
  const cycles: string[][] = [];
  const done = new Set<string>();
  const onPath: string[] = [];
  const visit = (name: string) => {
    if (done.has(name)) return;
    const at = onPath.indexOf(name);
    if (at >= 0) {
      if (onPath.length - at > 1) cycles.push([...onPath.slice(at), name]);
      return;
    }
    const route = routes.get(name);
    if (!route) return;
    onPath.push(name);
    for (const ref of targetsOf(route)) if (ref !== name && routes.has(ref) && !isTier(ref)) visit(ref);
    onPath.pop();
    done.add(name);
  };
  for (const name of routes.keys()) visit(name);
  return cycles;
}
