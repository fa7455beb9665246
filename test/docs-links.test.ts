import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import GithubSlugger from "github-slugger";
import { describe, expect, it } from "vitest";

/**
 * Every relative link in the README and docs/, and every docs/ reference in a source comment, points
 * at a file that exists and, with an anchor, at a heading that file has. The docs are long and moved
 * often: a link that breaks says nothing until a reader follows it.
 */

const ROOT = path.resolve(import.meta.dirname, "..");
const DOCS = ["README.md", ...readdirSync(path.join(ROOT, "docs")).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`)];

/** Fenced blocks (backticks or tildes, indented inside lists or not), which hold neither links nor headings. */
const FENCED = /^ *(`{3,}|~{3,})[^\n]*\n[\s\S]*?^ *\1[`~]*[ \t]*$/gm;

/** Code is not prose: a link shown as an example inside it is not followed. */
function withoutCode(markdown: string): string {
  return markdown.replace(FENCED, "").replace(/`[^`\n]*`/g, "");
}

/** The anchors GitHub gives a file's headings (duplicates numbered, as it numbers them), and its own `<a id>` anchors. */
const anchorsByFile = new Map<string, Set<string>>();
function anchorsOf(file: string): Set<string> {
  let anchors = anchorsByFile.get(file);
  if (anchors) return anchors;
  const slugger = new GithubSlugger();
  anchors = new Set<string>();
  for (const line of readFileSync(file, "utf8").replace(FENCED, "").split("\n")) {
    // A closing run of # needs a space before it, as in GitHub's Markdown: "C#" keeps its #.
    const heading = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    // A link in a heading is anchored by its text alone.
    if (heading) anchors.add(slugger.slug(heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/`/g, "")));
    for (const named of line.matchAll(/<a (?:id|name)="([^"]+)"/g)) anchors.add(named[1]!);
  }
  anchorsByFile.set(file, anchors);
  return anchors;
}

/** What is wrong with a link from `from` to `target`, or undefined when it lands. */
function brokenLink(from: string, target: string): string | undefined {
  const [pathPart, anchor] = target.split("#", 2) as [string, string | undefined];
  let file: string;
  try {
    file = pathPart === "" ? from : path.resolve(path.dirname(from), decodeURI(pathPart));
  } catch {
    return "a path that is not valid percent-encoding";
  }
  if (!existsSync(file)) return "no such file";
  if (anchor === undefined || anchor === "" || statSync(file).isDirectory() || !file.endsWith(".md")) return undefined;
  return anchorsOf(file).has(anchor) ? undefined : `no heading with the anchor #${anchor}`;
}

function relativeLinks(markdown: string): string[] {
  const links: string[] = [];
  for (const match of withoutCode(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = match[1]!;
    if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) links.push(target);
  }
  return links;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : sourceFiles(full);
    return /\.(ts|mts|cts|tsx|mjs|cjs|js)$/.test(entry.name) ? [full] : [];
  });
}

describe("links in the docs", () => {
  it("finds the links it checks, and headings the way GitHub anchors them", () => {
    expect(relativeLinks("see [a](pages/x.md#y), [b](https://example.com) and `[c](z.md)`")).toEqual(["pages/x.md#y"]);
    expect(relativeLinks("~~~\n[a](x.md)\n~~~\n- a list\n  ```ts\n  [b](y.md)\n  ```\n[c](z.md)")).toEqual(["z.md"]);
    const slugger = new GithubSlugger();
    expect(slugger.slug("Scaling with --workers")).toBe("scaling-with---workers");
    expect(slugger.slug("The embedded store's WAL")).toBe("the-embedded-stores-wal");
  });

  it.each(DOCS)("%s: every relative link lands", (doc) => {
    const from = path.join(ROOT, doc);
    const broken = relativeLinks(readFileSync(from, "utf8"))
      .map((target) => ({ target, problem: brokenLink(from, target) }))
      .filter((link) => link.problem !== undefined);
    expect(broken).toEqual([]);
  });

  it("every docs/ page a source comment names exists, with the heading it names", () => {
    const files = ["src", "bench", "test", "scripts"].flatMap((dir) => sourceFiles(path.join(ROOT, dir)));
    const references: string[] = [];
    const broken: Array<{ file: string; target: string; problem: string }> = [];
    for (const file of files) {
      for (const match of readFileSync(file, "utf8").matchAll(/docs\/[\w-]+\.md(?:#[\w-]+)?/g)) {
        references.push(match[0]);
        const problem = brokenLink(path.join(ROOT, "README.md"), match[0]);
        if (problem) broken.push({ file: path.relative(ROOT, file), target: match[0], problem });
      }
    }
    expect(references.length).toBeGreaterThan(10);
    expect(broken).toEqual([]);
  });
});
