import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const STRICT_APPS = ["test/fixtures/library-types/strict-user.ts", "test/fixtures/library-types/grant-user.ts"];

/**
 * One program for the application files that compile under the same options: TypeScript then resolves
 * and checks the library's types once for both (about 3 s of CPU less than a program each).
 */
let strictProgram: ts.Program | undefined;

/** The problems TypeScript finds in the application file `app` alone (`skipLibCheck`), as an application's strict build would. */
function problemsIn(app: string): string[] {
  strictProgram ??= ts.createProgram(STRICT_APPS, {
    strict: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ["node"],
  });
  const file = strictProgram.getSourceFile(app)!;
  return [...strictProgram.getSyntacticDiagnostics(file), ...strictProgram.getSemanticDiagnostics(file)].map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
}

/**
 * The library's types as an application compiles them: with `strict` and `exactOptionalPropertyTypes`,
 * which the repository's own code does not use, so only a compilation under them shows an option that
 * refuses a value which may be undefined. Only the application's file is checked, as `skipLibCheck`
 * leaves a package's own declarations unchecked.
 */
describe("the library's types in an application compiled with exactOptionalPropertyTypes", () => {
  it("accept undefined for every optional option", () => {
    expect(problemsIn(STRICT_APPS[0]!)).toEqual([]);
  }, 60_000);

  // Every grant is refused at run time without `maxCalls` or `maxSpendUsd`, so grant()'s type asks for
  // at least one of them, and the mistake shows in the editor (the fixture's @ts-expect-error lines).
  it("ask grant() for maxCalls, maxSpendUsd or both", () => {
    expect(problemsIn(STRICT_APPS[1]!)).toEqual([]);
  }, 60_000);

  it("compile, as published, in an application that type-checks its dependencies, without reaching the store's declarations, and take messages typed by the openai package", () => {
    const app = "test/fixtures/library-types/published-user.ts";
    const program = ts.createProgram([app], {
      strict: true,
      exactOptionalPropertyTypes: true,
      skipLibCheck: false,
      // TypeScript's own lib files are not the package's: checking them took about 1 s of each program.
      skipDefaultLibCheck: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ["node"],
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ""}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
    expect(problems).toEqual([]);
    // Drizzle's declarations cover every database it supports, and do not compile without their drivers' types.
    expect(program.getSourceFiles().map((f) => f.fileName).filter((name) => name.includes("drizzle-orm"))).toEqual([]);
  }, 60_000);

  // A CommonJS file that imports the package compiles to require("airlock"), which Node runs on this ES
  // module since 20.19. TypeScript under `module: node16` or `node18` (what @tsconfig/node16 to node22
  // set) refuses such an import of an ES module's declarations, so the `require` condition must offer it
  // declarations it reads as CommonJS.
  it.each(["Node16", "Node18", "NodeNext"] as const)("compile, as published, in a CommonJS application under module %s", (module) => {
    const app = "test/fixtures/library-types/commonjs-user.cts";
    const program = ts.createProgram([app], {
      strict: true,
      exactOptionalPropertyTypes: true,
      skipLibCheck: false,
      skipDefaultLibCheck: true,
      esModuleInterop: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind[module],
      moduleResolution: module === "NodeNext" ? ts.ModuleResolutionKind.NodeNext : ts.ModuleResolutionKind.Node16,
      types: ["node"],
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ""}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
    expect(problems).toEqual([]);
    // Resolved by its name through `exports`, as an installed copy is, not by a path into dist/.
    expect(program.getSourceFiles().map((f) => path.relative(process.cwd(), f.fileName))).toContain(path.join("dist", "index.d.ts"));
  }, 60_000);
});

