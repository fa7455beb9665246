// @ts-check
/** The overview: spend, latency, service levels, spend over time and recent calls, narrowed by the filters. */
import { $, api, budgetBurn, dollars, fill, money, roundedMoney, units, unitsMoney, when } from "./lib.js";

/** @param {string} id */
const valueOf = (id) => /** @type {HTMLInputElement | HTMLSelectElement} */ ($(id)).value.trim();

/** The filters as query parameters; empty ones are left out. */
function filterQuery() {
  const params = new URLSearchParams({ since: valueOf("since") });
  for (const name of ["operation", "model", "user"]) {
    const value = valueOf(`filter-${name}`);
    if (value) params.set(name, value);
  }
  return params;
}

export async function loadOverview() {
  const filters = filterQuery();
  const stackBy = valueOf("stack-by");
  const grain = valueOf("grain");
  const since = valueOf("since");
  // Everything is read first, then drawn at once: a half-drawn overview is never on screen.
  const [overview, series, calls, choices, budgets, keys] = await Promise.all([
    api("GET", `/admin/overview?${filters}`),
    api("GET", `/admin/spend/series?${filters}&by=${stackBy}&grain=${grain}`),
    api("GET", `/admin/calls?${filters}&limit=50`),
    choicesFor(since, [...filters.keys()].length > 1),
    api("GET", "/admin/budgets"),
    api("GET", "/admin/keys"),
  ]);
  const keyName = namesOfKeys(keys.data.data);
  const o = overview.data;
  offer("filter-operation", choices.operation);
  offer("filter-model", choices.model);
  $("known-users").replaceChildren(...choices.user.slice(0, 200).map((l) => new Option(l.group)));
  const narrowed = Object.entries(o.filters).map(([name, value]) => `${name} ${value}`);
  $("filter-basis").textContent = narrowed.length ? `Showing calls with ${narrowed.join(", ")}.` : "Showing all calls.";
  $("total-spend").textContent = `$${money(o.cost)}`;
  $("total-requests").textContent = String(o.requests);
  $("error-rate").textContent = o.requests ? percent(o.failures / o.requests) : "–";
  $("latency").textContent = o.latency.calls ? `${o.latency.p50} ms / ${o.latency.p95} ms` : "–";
  $("ttft").textContent = o.ttft.calls ? `${o.ttft.p50} ms / ${o.ttft.p95} ms` : "–";
  $("fallback-rate").textContent = o.requests ? percent(o.fallbackRequests / o.requests) : "–";
  /** @param {any[]} lines */
  const top = (lines, nameOf = (/** @type {string} */ group) => group) => lines.map((l) => [nameOf(l.group), l.requests, l.errors, money(l.cost)]);
  fill("by-operation", top(o.top.operation));
  fill("by-model", top(o.top.model));
  fill("by-user", top(o.top.user));
  fill("by-key", top(o.top.key, keyName));
  slo(o.slo);
  // Budgets burn in their own windows, whatever the range and filters.
  fill("budget-burn", budgets.data.data.map(budgetBurn), "No budgets.");
  fill(
    "error-codes",
    o.codes.map((/** @type {any} */ c) => [c.code, c.outcome, c.requests, percent(c.requests / o.requests)]),
    "No errors.",
  );
  chart(series.data.points, stackBy, grain, stackBy === "key" ? keyName : (group) => group);
  fill(
    "calls",
    calls.data.data.map((/** @type {any} */ c) => [when(c.ts), c.operation ?? "", c.model ?? c.requestedModel ?? "", `${c.httpStatus} ${c.outcome}${c.errorCode ? ` (${c.errorCode})` : ""}`, `${c.latencyMs} ms`, `${c.inputTokens} / ${c.outputTokens}`, money(c.cost), c.endUser ?? ""]),
  );
}

/** @type {{since: string, lines: Promise<Record<"operation" | "model" | "user", Array<{group: string}>>>} | undefined} */
let choices;

/**
 * What the filters offer: every operation, model and user the whole range holds, from the rollups.
 * While narrowing within one range they are read once, not on every load.
 * @param {string} since
 * @param {boolean} narrowing
 */
function choicesFor(since, narrowing) {
  if (!narrowing || choices?.since !== since) {
    const read = (/** @type {string} */ by) => api("GET", `/admin/spend?by=${by}&since=${since}`).then((r) => r.data.lines);
    const lines = Promise.all([read("operation"), read("model"), read("user")]).then(([operation, model, user]) => ({ operation, model, user }));
    choices = { since, lines };
    // A failed read is not kept: the next load asks again.
    lines.catch(() => (choices = undefined));
  }
  return choices.lines;
}

/**
 * The ledger keeps a key's id; a key is shown by its name and the prefix its holder sees
 * ("reporting (sk-al-NnOP-T…)"). One the store does not list (the bootstrap admin, library calls) keeps its id.
 * @param {Array<{id: string, name: string, prefix: string}>} keys
 */
function namesOfKeys(keys) {
  const names = new Map(keys.map((k) => [k.id, `${k.name} (${k.prefix}…)`]));
  return (/** @type {string} */ id) => names.get(id) ?? id;
}

/** @param {number} x */
const percent = (x) => `${(x * 100).toFixed(1)}%`;

/**
 * A filter's choices: every value the range holds, keeping the one chosen even when it holds none.
 * @param {string} id
 * @param {Array<{group: string}>} lines
 */
function offer(id, lines) {
  const select = /** @type {HTMLSelectElement} */ ($(id));
  const chosen = select.value;
  const values = lines.map((l) => l.group).sort();
  if (chosen && !values.includes(chosen)) values.unshift(chosen);
  select.replaceChildren(new Option("All", ""), ...values.map((value) => new Option(value, value)));
  select.value = chosen;
}

const SLO_LABELS = {
  fallbackRate: "Fallback rate",
  modelErrorRate: "Model error rate",
  costPerMessageUsd: "Average cost per message",
  approvalRate: "Approval (escalation) rate",
  toolCallSuccessRate: "Tool-call success rate",
};

/**
 * The SLO panel: each reading against its configured threshold, red past it, as the server judged it.
 * @param {Array<{name: keyof typeof SLO_LABELS, value?: number | string, threshold: number | string, bound: "max" | "min", breached: boolean}>} readings
 */
function slo(readings) {
  $("slo").replaceChildren(
    ...readings.map((r) => {
      // An average cost is worked out to twelve places: rounded for reading, as the threshold is not.
      const show = (/** @type {number | string} */ x) => (r.name === "costPerMessageUsd" ? dollars(roundedMoney(String(x))) : percent(Number(x)));
      const card = document.createElement("div");
      card.id = `slo-${r.name}`;
      card.className = `card${r.breached ? " breach" : ""}`;
      const label = document.createElement("span");
      label.className = "label";
      label.textContent = SLO_LABELS[r.name];
      const value = document.createElement("span");
      value.className = "value";
      value.textContent = r.value === undefined ? (r.name === "toolCallSuccessRate" ? "no tool calls" : "–") : show(r.value);
      const limit = document.createElement("span");
      limit.className = "limit";
      const side = r.bound === "max" ? (r.breached ? "Over" : "Within") : r.breached ? "Under" : "Within";
      limit.textContent = `${side} the ${r.bound === "max" ? "limit" : "floor"} of ${show(r.threshold)}`;
      card.append(label, value, limit);
      return card;
    }),
  );
}

const COLORS = ["#1f5fbf", "#e8710a", "#1e8e3e", "#9334e6", "#d01884", "#12b5cb", "#80868b"];

/**
 * Spend over time as stacked bars: one bar per hour or day, one band per value of the split (the six
 * dearest, the rest as "other"), or one value alone when "Show" names it.
 * @param {Array<{start: string, group: string, cost: string}>} points
 * @param {string} stackBy
 * @param {string} grain
 * @param {(group: string) => string} nameOf what a value is called on screen (a key by its name)
 */
function chart(points, stackBy, grain, nameOf) {
  const only = /** @type {HTMLSelectElement} */ ($("only"));
  const chosen = only.value;
  /** @type {Map<string, number>} */
  const totals = new Map();
  for (const p of points) totals.set(p.group, (totals.get(p.group) ?? 0) + Number(p.cost));
  const ranked = [...totals].sort((a, b) => b[1] - a[1]).map(([group]) => group);
  only.replaceChildren(new Option("All", ""), ...ranked.map((group) => new Option(nameOf(group), group)));
  only.value = ranked.includes(chosen) ? chosen : "";
  const shown = only.value ? [only.value] : ranked.slice(0, 6);
  const band = (/** @type {string} */ group) => (shown.includes(group) ? group : only.value ? undefined : "other");
  /** @type {Map<string, Map<string, bigint>>} */
  const buckets = new Map();
  for (const p of points) {
    const name = band(p.group);
    if (name === undefined) continue;
    const bucket = buckets.get(p.start) ?? new Map();
    bucket.set(name, (bucket.get(name) ?? 0n) + units(p.cost));
    buckets.set(p.start, bucket);
  }
  const starts = [...buckets.keys()].sort();
  const bands = [...shown, ...(ranked.length > shown.length && !only.value ? ["other"] : [])];
  // Sums are exact (in units of 10^-12 dollars); only the bars' heights are floats.
  const sumOf = (/** @type {string} */ start) => [...(buckets.get(start)?.values() ?? [])].reduce((a, b) => a + b, 0n);
  const max = Math.max(0, ...starts.map((start) => Number(sumOf(start))));
  const svgNs = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNs, "svg");
  svg.setAttribute("viewBox", "0 0 600 180");
  const width = 600 / Math.max(starts.length, 1);
  // The server's buckets are UTC hours and days, and are labelled so (the title says UTC); an hour's label
  // carries its day when the bars span more than one. Only as many labels as fit side by side are written
  // (a character is about 6 units at the chart's 10-unit font): 720 hours' labels ran into one black band.
  const days = new Set(starts.map((start) => start.slice(0, 10))).size;
  const labelOf = (/** @type {string} */ start) => (grain === "day" ? start.slice(5, 10) : days > 1 ? `${start.slice(5, 10)} ${start.slice(11, 16)}` : start.slice(11, 16));
  const labelWidth = (grain === "hour" && days > 1 ? 11 : 5) * 6 + 10;
  const step = Math.max(1, Math.ceil(starts.length / Math.floor(600 / labelWidth)));
  starts.forEach((start, i) => {
    let top = 160;
    for (const [b, name] of bands.entries()) {
      const cost = buckets.get(start)?.get(name) ?? 0n;
      if (cost === 0n) continue;
      const height = max > 0 ? (Number(cost) / max) * 150 : 0;
      top -= height;
      const bar = document.createElementNS(svgNs, "rect");
      bar.setAttribute("class", "bar");
      bar.setAttribute("fill", COLORS[Math.min(b, COLORS.length - 1)] ?? "#80868b");
      bar.setAttribute("x", String(i * width + 2));
      bar.setAttribute("y", String(top));
      bar.setAttribute("width", String(Math.max(width - 4, 1)));
      bar.setAttribute("height", String(height));
      const title = document.createElementNS(svgNs, "title");
      title.textContent = `${start} ${nameOf(name)}: $${unitsMoney(cost)}`;
      bar.append(title);
      svg.append(bar);
    }
    if (i % step !== 0) return;
    const label = document.createElementNS(svgNs, "text");
    label.setAttribute("x", String(i * width + 2));
    label.setAttribute("y", "175");
    label.textContent = labelOf(start);
    svg.append(label);
  });
  $("spend-chart").replaceChildren(svg);
  $("spend-chart").setAttribute("aria-label", `Spend per ${grain} (UTC) by ${stackBy}: ${starts.map((start) => `${start} $${unitsMoney(sumOf(start))}`).join(", ") || "no spend"}`);
  $("chart-title").textContent = `Spend per ${grain} (UTC), by ${stackBy}${only.value ? ` (${nameOf(only.value)} only)` : ""}`;
  $("chart-legend").replaceChildren(
    ...bands.map((name, b) => {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = COLORS[Math.min(b, COLORS.length - 1)] ?? "#80868b";
      item.append(swatch, nameOf(name));
      return item;
    }),
  );
}
