// @ts-check
/** Spend over time: stacked bars, a short summary for screen readers, and every bar's figures in a table. */
import { $, units, unitsMoney } from "./lib.js";

const COLORS = ["#1f5fbf", "#e8710a", "#1e8e3e", "#9334e6", "#d01884", "#12b5cb", "#80868b"];

/**
 * Spend over time as stacked bars: one bar per hour or day, one band per value of the split (the six
 * dearest, the rest as "other"), or one value alone when "Show" names it.
 * @param {Array<{start: string, group: string, cost: string}>} points
 * @param {string} stackBy
 * @param {string} grain
 * @param {(group: string) => string} nameOf what a value is called on screen (a key by its name)
 */
export function chart(points, stackBy, grain, nameOf) {
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
  const title = `Spend per ${grain} (UTC), by ${stackBy}${only.value ? ` (${nameOf(only.value)} only)` : ""}`;
  $("spend-chart").setAttribute("aria-label", summary(title, starts, sumOf, grain));
  $("chart-title").textContent = title;
  table(starts, bands, (start, name) => buckets.get(start)?.get(name) ?? 0n, sumOf, grain, nameOf);
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

/**
 * What the chart shows, said in one breath: its range, its total and its highest bar. A label that read
 * out every bar was hundreds of values long at 30 days per hour; the figures are in the table instead.
 * @param {string} title
 * @param {string[]} starts the bars' starts, in order
 * @param {(start: string) => bigint} sumOf
 * @param {string} grain
 */
function summary(title, starts, sumOf, grain) {
  const first = starts[0];
  const last = starts[starts.length - 1];
  if (first === undefined || last === undefined) return `${title}: no spend.`;
  let peak = first;
  for (const start of starts) if (sumOf(start) > sumOf(peak)) peak = start;
  const total = starts.reduce((sum, start) => sum + sumOf(start), 0n);
  const at = (/** @type {string} */ start) => bucketName(start, grain);
  const span = first === last ? `in ${at(first)}` : `from ${at(first)} to ${at(last)}`;
  const count = `${starts.length} ${grain}${starts.length === 1 ? "" : "s"} with spend`;
  return `${title}: $${unitsMoney(total)} in all, ${span} (${count}); the most, $${unitsMoney(sumOf(peak))}, ${at(peak)}. Each ${grain}'s spend is in the table below the chart.`;
}

/**
 * A bar's bucket as the table and the summary name it: a UTC day, or a UTC hour with its day.
 * @param {string} start
 * @param {string} grain
 */
const bucketName = (start, grain) => (grain === "day" ? start.slice(0, 10) : `${start.slice(0, 10)} ${start.slice(11, 16)}`);

/**
 * Every bar as a row of the table under the chart: its bands' spend and its total, exactly.
 * @param {string[]} starts
 * @param {string[]} bands
 * @param {(start: string, band: string) => bigint} costOf
 * @param {(start: string) => bigint} sumOf
 * @param {string} grain
 * @param {(group: string) => string} nameOf
 */
function table(starts, bands, costOf, sumOf, grain, nameOf) {
  $("chart-data-title").textContent = `Spend per ${grain} as a table`;
  const cell = (/** @type {"th" | "td"} */ tag, /** @type {string} */ text, numeric = false) => {
    const el = document.createElement(tag);
    el.textContent = text;
    if (numeric) el.className = "num";
    return el;
  };
  const head = document.createElement("tr");
  head.append(cell("th", `${grain === "day" ? "Day" : "Hour"} (UTC)`), ...bands.map((name) => cell("th", `${nameOf(name)} (USD)`, true)), cell("th", "Total (USD)", true));
  for (const th of head.cells) /** @type {HTMLTableCellElement} */ (th).scope = "col";
  const table = /** @type {HTMLTableElement} */ ($("spend-table"));
  /** @type {HTMLTableSectionElement} */ (table.tHead).replaceChildren(head);
  const rows = starts.map((start) => {
    const row = document.createElement("tr");
    const name = cell("th", bucketName(start, grain));
    name.scope = "row";
    row.append(name, ...bands.map((band) => cell("td", unitsMoney(costOf(start, band)), true)), cell("td", unitsMoney(sumOf(start)), true));
    return row;
  });
  if (rows.length === 0) {
    const row = document.createElement("tr");
    const empty = cell("td", "No spend.");
    empty.colSpan = bands.length + 2;
    row.append(empty);
    rows.push(row);
  }
  /** @type {HTMLTableSectionElement} */ (table.tBodies[0]).replaceChildren(...rows);
}
