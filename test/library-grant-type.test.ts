import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * `grant()` takes what it can grant: every grant is refused at run time without `maxCalls` or
 * `maxSpendUsd`, so its type asks for at least one of them, and the mistake shows in the editor.
 */
describe("the type of grant()", () => {
  it("asks for maxCalls, maxSpendUsd or both", () => {
    const app = "test/fixtures/library-types/grant-user.ts";
    const program = ts.createProgram([app], {
      strict: true,
      exactOptionalPropertyTypes: true,
      skipLibCheck: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ["node"],
    });
    const file = program.getSourceFile(app)!;
    const problems = [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)].map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    expect(problems).toEqual([]);
  }, 60_000);
});
