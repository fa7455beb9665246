import { readFile } from "node:fs/promises";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/process.js";

/**
 * On Node 20 (V8 11.3), an object literal that starts with a spread and then has more (`{ ...a, b }`,
 * `{ ...a, ...b }`) keeps everything it refers to alive past the young-generation collections, even
 * when it is garbage at once: on the hot path that kept every call's request, answer and stream for
 * a full collection (docs/performance-findings.md#objects-spread-into). Our fields first, then the spread,
 * does not (`{ b, ...a }`, then `o.b = …` where ours must win). This keeps the files every call runs
 * through free of the first shape. A spread that only overwrites fields it copied is harmless, but
 * cannot be told apart here: routing/plan.ts and routing/sessions.ts, which have such spreads on
 * their rarer paths (a budget step-down, a session pin), are not listed.
 */
const HOT_PATH = [
  "src/calls/chat.ts",
  "src/calls/stream.ts",
  "src/calls/single.ts",
  "src/calls/prepare.ts",
  "src/calls/holds.ts",
  "src/calls/settle.ts",
  "src/calls/usage.ts",
  "src/core/cancel.ts",
  "src/core/access-log.ts",
  "src/gateway/server.ts",
  "src/gateway/requests.ts",
  "src/gateway/http-server.ts",
  "src/gateway/open-requests.ts",
  "src/gateway/http.ts",
  "src/gateway/sse.ts",
  "src/gateway/auth.ts",
  "src/gateway/routes/openai.ts",
  "src/providers/http.ts",
  "src/providers/dispatch.ts",
  "src/providers/attempt.ts",
  "src/providers/sse-answer.ts",
  "src/providers/chunk-wire.ts",
  "src/providers/openai-wire.ts",
  "src/providers/openai-compatible/provider.ts",
  "src/providers/openai-compatible/translate.ts",
  "src/routing/execute.ts",
  "src/guards/rate-limits.ts",
  "src/ledger/writer.ts",
  "src/store/queries/ledger.ts",
  "src/telemetry/metrics.ts",
  "src/telemetry/series-histogram.ts",
];

/** Each object literal that starts with a spread and has anything after it, as `file:line`. */
function spreadThenMore(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isObjectLiteralExpression(node) && node.properties.length > 1 && ts.isSpreadAssignment(node.properties[0]!)) {
      found.push(`${file}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe("hot-path object shapes", () => {
  it("finds the shape it looks for, and only that one", () => {
    const sample = "const a = { ...x, b: 1 }; const c = { ...x, ...y }; const d = { b: 1, ...x }; const e = { ...x };";
    expect(spreadThenMore("sample.ts", sample)).toEqual(["sample.ts:1", "sample.ts:1"]);
  });

  it("no file a call runs through builds an object by spreading another and adding to it", async () => {
    const found: string[] = [];
    for (const file of HOT_PATH) found.push(...spreadThenMore(file, await readFile(path.join(REPO_ROOT, file), "utf8")));
    expect(found).toEqual([]);
  });
});
