import type { BudgetEvent } from "../guards/budget-status.js";
import type { Logger } from "../core/logger.js";

/**
 * The application's `onBudgetEvent`, whose failure (a throw, or a promise that rejects) is its own bug:
 * logged, never thrown into the budgets' sync round, which took it for the store being unreachable and
 * refused every budgeted call, nor left as an unhandled rejection that ends the process.
 */
export function heardSafely(listener: (event: BudgetEvent) => unknown, logger: Logger): (event: BudgetEvent) => void {
  return (event) => {
    const failed = (err: unknown) => logger.error({ err, event: event.type, budget: event.budget }, "onBudgetEvent failed");
    try {
      const heard: unknown = listener(event);
      if (heard instanceof Promise) heard.catch(failed);
    } catch (err) {
      failed(err);
    }
  };
}
