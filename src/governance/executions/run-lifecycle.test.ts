import { describe, expect, it } from "vitest";
import { AirlockError } from "../../core/errors.js";
import { nextRunStatuses, RUN_STATUSES, runStatusOf, runTransitionError, type RunStatus } from "./run-lifecycle.js";

const VALID: Array<[RunStatus, RunStatus]> = [
  ["pending", "running"],
  ["pending", "canceled"],
  ["running", "completed"],
  ["running", "failed"],
  ["running", "canceled"],
];

describe("run lifecycle", () => {
  it("allows exactly the documented moves", () => {
    for (const from of RUN_STATUSES) {
      for (const to of RUN_STATUSES) {
        const valid = VALID.some(([a, b]) => a === from && b === to);
        expect(nextRunStatuses(from).includes(to), `${from} → ${to}`).toBe(valid);
      }
    }
  });

  it("names the allowed moves when it refuses one", () => {
    const err = runTransitionError("run_1", "completed", "running");
    expect(err).toBeInstanceOf(AirlockError);
    expect(err).toMatchObject({ code: "conflict", status: 409, details: { status: "completed", requested: "running", allowed: [] } });
    expect(err.message).toBe('run "run_1" is completed: it cannot become running (that is final)');
    expect(runTransitionError("run_1", "pending", "failed").message).toContain("it may become running or canceled");
  });

  it("maps module status to run status", () => {
    expect(runStatusOf("SUCCESS")).toBe("completed");
    expect(runStatusOf("FAILURE")).toBe("failed");
    expect(runStatusOf("ERROR")).toBe("failed");
  });
});
