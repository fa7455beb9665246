/** Reading a bench report (`latest.md`) back, for bench:publish: its tables and its checks. */

/** The markdown table whose first line starts with `start`, through its last row, with its line ends. */
export function tableAt(markdown: string, start: string): string | undefined {
  const lines = markdown.split("\n");
  const first = lines.findIndex((line) => line.startsWith(start));
  if (first < 0) return undefined;
  const end = lines.findIndex((line, i) => i > first && !line.startsWith("|"));
  return `${lines.slice(first, end < 0 ? lines.length : end).join("\n")}\n`;
}

/** A table line's cells, trimmed, without the empty ones outside its first and last bar. */
export function cellsOf(line: string): string[] {
  return line.split("|").slice(1, -1).map((cell) => cell.trim());
}

/** The rows of the table that begins with `start`, each as its cells, header and separator left out. */
export function rowsOf(markdown: string, start: string): string[][] {
  const table = tableAt(markdown, start);
  return table === undefined ? [] : table.trimEnd().split("\n").slice(2).map(cellsOf);
}

/** The measured value of every check of the report, by the check's name. */
export function checksOf(latest: string): Map<string, string> {
  const out = new Map(rowsOf(latest, "| check | measured |").map(([name = "", value = ""]) => [name, value]));
  if (out.size === 0) throw new Error("latest.md has no checks table");
  return out;
}

/** The measured value of the check whose name begins with `prefix`. */
export function checkValue(measured: Map<string, string>, prefix: string): string {
  for (const [name, value] of measured) if (name.startsWith(prefix)) return value;
  throw new Error(`latest.md has no check "${prefix}"`);
}
