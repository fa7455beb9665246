import type { PublicKey } from "../auth/keys.js";
import type { SpendReport } from "./admin-client.js";

/** A plain text table: columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

export function printKeys(keys: PublicKey[]): string {
  if (keys.length === 0) return "No keys yet. Create one with `airlock keys create --name NAME --kind user`.";
  return table(
    ["id", "name", "kind", "prefix", "user", "team", "created", "revoked"],
    keys.map((k) => [k.id, k.name, k.kind, k.prefix + "…", k.userId ?? "", k.teamId ?? "", k.createdAt, k.revokedAt ?? ""]),
  );
}

export function printSpend(report: SpendReport): string {
  const body = report.lines.length
    ? table(
        [report.by, "requests", "errors", "input tokens", "output tokens", "cost (USD)"],
        report.lines.map((l) => [l.group, String(l.requests), String(l.errors), String(l.inputTokens), String(l.outputTokens), l.cost]),
      )
    : "No calls in this period.";
  return `Spend since ${report.since}, by ${report.by}\n\n${body}\n\nTotal: $${report.total}`;
}
