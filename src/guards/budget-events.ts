import type { BudgetDefinition, Window } from "../policy/budgets.js";
import type { BudgetEvent, BudgetEventType } from "./budget-status.js";

/** The event a budget's window raises, as the notification hook hears it. */
export function budgetEvent(type: BudgetEventType, def: BudgetDefinition, window: Window, spent?: string): BudgetEvent {
  return {
    type,
    budget: def.name,
    scope: def.scope,
    ...(def.scope === "global" ? {} : { target: def.target }),
    windowStart: new Date(window.start).toISOString(),
    windowEnd: new Date(window.end).toISOString(),
    limit: def.limit.toFixed(),
    ...(spent === undefined ? {} : { spent }),
  };
}
