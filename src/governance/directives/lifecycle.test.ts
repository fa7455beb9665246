import { describe, expect, it } from "vitest";
import { canTransition, DIRECTIVE_STATUSES, nextStatuses, transitionError } from "./lifecycle.js";

const VALID = [
  ["draft", "proposed"],
  ["draft", "aborted"],
  ["proposed", "approved"],
  ["proposed", "blocked"],
  ["proposed", "aborted"],
  ["blocked", "proposed"],
  ["blocked", "aborted"],
  ["approved", "executing"],
  ["approved", "blocked"],
  ["approved", "aborted"],
  ["executing", "complete"],
  ["executing", "aborted"],
] as const;

describe("directive lifecycle", () => {
  it("allows exactly the documented transitions, and refuses every other", () => {
    for (const from of DIRECTIVE_STATUSES) {
      for (const to of DIRECTIVE_STATUSES) {
        const expected = VALID.some(([a, b]) => a === from && b === to);
        expect({ from, to, allowed: canTransition(from, to) }).toEqual({ from, to, allowed: expected });
      }
    }
  });

  it("lists the next statuses, none after the final ones", () => {
    expect(nextStatuses("proposed")).toEqual(["approved", "blocked", "aborted"]);
    expect(nextStatuses("complete")).toEqual([]);
    expect(nextStatuses("aborted")).toEqual([]);
  });

  it("explains a refused transition", () => {
    const err = transitionError("dir_1", "draft", "executing");
    expect(err).toMatchObject({ code: "conflict", status: 409, details: { status: "draft", requested: "executing", allowed: ["proposed", "aborted"] } });
    expect(err.message).toBe('directive "dir_1" is draft: it cannot become executing (it may become proposed or aborted)');
    expect(transitionError("dir_1", "complete", "proposed").message).toContain("that is final");
  });
});
