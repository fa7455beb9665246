// @ts-check
/** The overview: spend, latency, service levels, spend over time and recent calls, narrowed by the filters. */
import { chart } from "./chart.js";
import { $, api, budgetBurn, dollars, fill, money, namesOfKeys, roundedMoney, when } from "./lib.js";

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

/** @param {() => boolean} [current] false once a newer read has begun: this one then draws nothing */
export async function loadOverview(current = () => true) {
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
  if (!current()) return;
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
