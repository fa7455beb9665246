// @ts-check
/** The overview: spend, latency, service levels, spend over time and recent calls. */
import { $, api, fill, money, when } from "./lib.js";

export async function loadOverview() {
  const since = /** @type {HTMLSelectElement} */ ($("since")).value;
  const stackBy = /** @type {HTMLSelectElement} */ ($("stack-by")).value;
  const grain = /** @type {HTMLSelectElement} */ ($("grain")).value;
  // Everything is read first, then drawn at once: a half-drawn overview is never on screen.
  const [byOperation, byModel, byUser, byKey, series, calls, thresholds] = await Promise.all(
    ["operation", "model", "user", "key"]
      .map((by) => api("GET", `/admin/spend?by=${by}&since=${since}`))
      .concat(api("GET", `/admin/spend/series?by=${stackBy}&grain=${grain}&since=${since}`), api("GET", "/admin/calls?limit=1000"), api("GET", "/dashboard/slo")),
  );
  const lines = byOperation.data.lines;
  const requests = lines.reduce((/** @type {number} */ n, /** @type {any} */ l) => n + l.requests, 0);
  const errors = lines.reduce((/** @type {number} */ n, /** @type {any} */ l) => n + l.errors, 0);
  $("total-spend").textContent = `$${money(byOperation.data.total)}`;
  $("total-requests").textContent = String(requests);
  $("error-rate").textContent = requests ? `${((errors / requests) * 100).toFixed(1)}%` : "–";
  /** @param {any} report */
  const top = (report) => [...report.data.lines].sort((a, b) => Number(b.cost) - Number(a.cost)).slice(0, 10).map((l) => [l.group, l.requests, l.errors, money(l.cost)]);
  fill("by-operation", top(byOperation));
  fill("by-model", top(byModel));
  fill("by-user", top(byUser));
  fill("by-key", top(byKey));
  chart(series.data.points, stackBy, grain);
  fill(
    "calls",
    calls.data.data.slice(0, 50).map((/** @type {any} */ c) => [when(c.ts), c.operation ?? "", c.model ?? c.requestedModel ?? "", `${c.httpStatus} ${c.outcome}${c.errorCode ? ` (${c.errorCode})` : ""}`, `${c.latencyMs} ms`, `${c.inputTokens} / ${c.outputTokens}`, money(c.cost), c.endUser ?? ""]),
  );
  const recent = calls.data.data;
  const latencies = recent.map((/** @type {any} */ c) => c.latencyMs).sort((/** @type {number} */ a, /** @type {number} */ b) => a - b);
  const ttfts = recent.filter((/** @type {any} */ c) => c.ttftMs !== null).map((/** @type {any} */ c) => c.ttftMs).sort((/** @type {number} */ a, /** @type {number} */ b) => a - b);
  /** @param {number[]} sorted @param {number} q */
  const at = (sorted, q) => (sorted.length ? `${sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]} ms` : "–");
  $("latency").textContent = `${at(latencies, 0.5)} / ${at(latencies, 0.95)}`;
  $("ttft").textContent = ttfts.length ? `${at(ttfts, 0.5)} / ${at(ttfts, 0.95)}` : "–";
  const fellBack = recent.filter((/** @type {any} */ c) => c.fallbacks > 0).length;
  $("fallback-rate").textContent = recent.length ? `${((fellBack / recent.length) * 100).toFixed(1)}%` : "–";
  $("recent-basis").textContent = `Latency, time to first token, fallback rate, service levels and errors by code: the last ${recent.length} calls.`;
  slo(recent, thresholds.data);
  /** @type {Map<string, number>} */
  const codes = new Map();
  for (const c of recent) if (c.errorCode) codes.set(c.errorCode, (codes.get(c.errorCode) ?? 0) + 1);
  fill(
    "error-codes",
    [...codes].sort((a, b) => b[1] - a[1]).map(([code, n]) => [code, n, `${((n / recent.length) * 100).toFixed(1)}%`]),
    "No errors.",
  );
}

/**
 * The SLO panel: each measure against its configured threshold, red past it.
 * @param {any[]} recent
 * @param {{fallbackRate: number, modelErrorRate: number, costPerMessageUsd: string, approvalRate: number}} limits
 */
function slo(recent, limits) {
  const n = recent.length;
  const share = (/** @type {(c: any) => boolean} */ test) => (n ? recent.filter(test).length / n : 0);
  const chats = recent.filter((c) => c.endpoint === "chat");
  const perMessage = chats.length ? chats.reduce((sum, c) => sum + Number(c.cost), 0) / chats.length : 0;
  const percent = (/** @type {number} */ x) => `${(x * 100).toFixed(1)}%`;
  const panels = [
    { id: "slo-fallback", label: "Fallback rate", value: share((c) => c.fallbacks > 0), limit: limits.fallbackRate, show: percent },
    { id: "slo-errors", label: "Model error rate", value: share((c) => c.outcome === "error"), limit: limits.modelErrorRate, show: percent },
    { id: "slo-cost", label: "Average cost per message", value: perMessage, limit: Number(limits.costPerMessageUsd), show: (/** @type {number} */ x) => `$${x.toFixed(6)}` },
    { id: "slo-approvals", label: "Approval (escalation) rate", value: share((c) => c.errorCode === "approval_required"), limit: limits.approvalRate, show: percent },
  ];
  $("slo").replaceChildren(
    ...panels.map((p) => {
      const card = document.createElement("div");
      card.id = p.id;
      const breach = n > 0 && p.value > p.limit;
      card.className = `card${breach ? " breach" : ""}`;
      const label = document.createElement("span");
      label.className = "label";
      label.textContent = p.label;
      const value = document.createElement("span");
      value.className = "value";
      value.textContent = p.show(p.value);
      const limit = document.createElement("span");
      limit.className = "limit";
      limit.textContent = `${breach ? "Over" : "Within"} the threshold of ${p.show(p.limit)}`;
      card.append(label, value, limit);
      return card;
    }),
    toolCalls(),
  );
}

/** Tool-call success needs tool calls in the ledger, which it does not record yet: said, not guessed. */
function toolCalls() {
  const card = document.createElement("div");
  card.className = "card";
  const label = document.createElement("span");
  label.className = "label";
  label.textContent = "Tool-call success rate";
  const value = document.createElement("span");
  value.className = "value";
  value.textContent = "not recorded";
  card.append(label, value);
  return card;
}

const COLORS = ["#1f5fbf", "#e8710a", "#1e8e3e", "#9334e6", "#d01884", "#12b5cb", "#80868b"];

/**
 * Spend over time as stacked bars: one bar per hour or day, one band per value of the split (the six
 * dearest, the rest as "other"), or one value alone when "Show" names it.
 * @param {Array<{start: string, group: string, cost: string}>} points
 * @param {string} stackBy
 * @param {string} grain
 */
function chart(points, stackBy, grain) {
  const only = /** @type {HTMLSelectElement} */ ($("only"));
  const chosen = only.value;
  /** @type {Map<string, number>} */
  const totals = new Map();
  for (const p of points) totals.set(p.group, (totals.get(p.group) ?? 0) + Number(p.cost));
  const ranked = [...totals].sort((a, b) => b[1] - a[1]).map(([group]) => group);
  only.replaceChildren(new Option("All", ""), ...ranked.map((group) => new Option(group, group)));
  only.value = ranked.includes(chosen) ? chosen : "";
  const shown = only.value ? [only.value] : ranked.slice(0, 6);
  const band = (/** @type {string} */ group) => (shown.includes(group) ? group : only.value ? undefined : "other");
  /** @type {Map<string, Map<string, number>>} */
  const buckets = new Map();
  for (const p of points) {
    const name = band(p.group);
    if (name === undefined) continue;
    const bucket = buckets.get(p.start) ?? new Map();
    bucket.set(name, (bucket.get(name) ?? 0) + Number(p.cost));
    buckets.set(p.start, bucket);
  }
  const starts = [...buckets.keys()].sort();
  const bands = [...shown, ...(ranked.length > shown.length && !only.value ? ["other"] : [])];
  const max = Math.max(0, ...starts.map((start) => [...(buckets.get(start)?.values() ?? [])].reduce((a, b) => a + b, 0)));
  const svgNs = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNs, "svg");
  svg.setAttribute("viewBox", "0 0 600 180");
  const width = 600 / Math.max(starts.length, 1);
  starts.forEach((start, i) => {
    let top = 160;
    for (const [b, name] of bands.entries()) {
      const cost = buckets.get(start)?.get(name) ?? 0;
      if (cost === 0) continue;
      const height = max > 0 ? (cost / max) * 150 : 0;
      top -= height;
      const bar = document.createElementNS(svgNs, "rect");
      bar.setAttribute("class", "bar");
      bar.setAttribute("fill", COLORS[Math.min(b, COLORS.length - 1)] ?? "#80868b");
      bar.setAttribute("x", String(i * width + 2));
      bar.setAttribute("y", String(top));
      bar.setAttribute("width", String(Math.max(width - 4, 1)));
      bar.setAttribute("height", String(height));
      const title = document.createElementNS(svgNs, "title");
      title.textContent = `${start} ${name}: $${money(String(cost))}`;
      bar.append(title);
      svg.append(bar);
    }
    const label = document.createElementNS(svgNs, "text");
    label.setAttribute("x", String(i * width + 2));
    label.setAttribute("y", "175");
    label.textContent = grain === "hour" ? start.slice(11, 16) : start.slice(5, 10);
    svg.append(label);
  });
  $("spend-chart").replaceChildren(svg);
  $("spend-chart").setAttribute("aria-label", `Spend per ${grain} by ${stackBy}: ${starts.map((start) => `${start} $${money(String([...(buckets.get(start)?.values() ?? [])].reduce((a, b) => a + b, 0)))}`).join(", ") || "no spend"}`);
  $("chart-title").textContent = `Spend per ${grain}, by ${stackBy}${only.value ? ` (${only.value} only)` : ""}`;
  $("chart-legend").replaceChildren(
    ...bands.map((name, b) => {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = COLORS[Math.min(b, COLORS.length - 1)] ?? "#80868b";
      item.append(swatch, name);
      return item;
    }),
  );
}
