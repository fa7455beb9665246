// @ts-check
/**
 * The dashboard's client. Everything it shows comes from the admin API and is written with
 * `textContent`, never as HTML; every change it makes is an admin API call carrying the session's
 * CSRF token. Plain JavaScript on purpose: the gateway serves this file as it is, with no bundler.
 */

/** @type {string | undefined} */
let csrf;
/** The signed-in key: the dashboard offers no approval of its own proposals. */
let me = "";

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && csrf) headers["x-csrf-token"] = csrf;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  const text = await res.text();
  const data = text ? JSON.parse(text) : undefined;
  if (res.status === 401 && path !== "/dashboard/login") showLogin();
  if (!res.ok) throw new Error(data?.error?.message ?? `${res.status}`);
  return { status: res.status, data };
}

/** @param {string} text */
function say(text) {
  $("status").textContent = text;
}

/**
 * A table body filled from rows of cells; each cell is text, or a node (a button).
 * @param {string} id
 * @param {Array<Array<string | number | Node>>} rows
 * @param {string} [empty]
 */
function fill(id, rows, empty = "Nothing yet.") {
  const body = /** @type {HTMLTableSectionElement} */ ($(id).querySelector("tbody"));
  body.replaceChildren();
  if (rows.length === 0) {
    const tr = body.insertRow();
    const td = tr.insertCell();
    td.colSpan = 8;
    td.textContent = empty;
    return;
  }
  for (const row of rows) {
    const tr = body.insertRow();
    for (const cell of row) {
      const td = tr.insertCell();
      if (cell instanceof Node) td.append(cell);
      else td.textContent = String(cell);
      if (typeof cell === "number") td.className = "num";
    }
  }
}

/** @param {Record<string, unknown>} price */
const priceText = (price) => Object.entries(price).filter(([, v]) => typeof v === "string" || typeof v === "number").map(([k, v]) => `${k} ${v}`).join(", ");
/** @param {string | null | undefined} iso */
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");
/** @param {string} usd */
const money = (usd) => Number(usd).toFixed(6);

function showLogin() {
  csrf = undefined;
  $("login-view").hidden = false;
  $("tabs").hidden = true;
  $("logout").hidden = true;
  for (const view of document.querySelectorAll("[data-view]")) /** @type {HTMLElement} */ (view).hidden = true;
}

/** @param {string} name */
function showTab(name) {
  $("login-view").hidden = true;
  $("tabs").hidden = false;
  $("logout").hidden = false;
  for (const button of document.querySelectorAll("#tabs button")) button.setAttribute("aria-pressed", String(/** @type {HTMLElement} */ (button).dataset.tab === name));
  for (const view of document.querySelectorAll("[data-view]")) /** @type {HTMLElement} */ (view).hidden = view.id !== name;
  const load = { overview: loadOverview, controls: loadControls, changes: loadChanges }[name];
  load?.().catch((/** @type {Error} */ err) => say(err.message));
}

async function loadOverview() {
  const since = /** @type {HTMLSelectElement} */ ($("since")).value;
  const stackBy = /** @type {HTMLSelectElement} */ ($("stack-by")).value;
  const grain = /** @type {HTMLSelectElement} */ ($("grain")).value;
  const [byOperation, byModel, byUser, byKey, series, calls] = await Promise.all(
    ["operation", "model", "user", "key"]
      .map((by) => api("GET", `/admin/spend?by=${by}&since=${since}`))
      .concat(api("GET", `/admin/spend/series?by=${stackBy}&grain=${grain}&since=${since}`), api("GET", "/admin/calls?limit=1000")),
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
  slo(recent, (await api("GET", "/dashboard/slo")).data);
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

async function loadControls() {
  const [state, keys, budgets, routes, toggles, prices, limits] = await Promise.all(
    ["/admin/kill-switch", "/admin/keys", "/admin/budgets", "/admin/routes", "/v1/toggles", "/admin/prices", "/admin/rate-limits"].map((path) => api("GET", path)),
  );
  fill(
    "rate-limits",
    limits.data.data.map((/** @type {any} */ l) => [l.name, l.target ? `${l.scope} ${l.target}` : `${l.scope}${l.scope === "global" ? "" : " (each)"}`, l.requestsPerMinute ?? "–", l.tokensPerMinute ?? "–"]),
    "No rate limits.",
  );
  fill(
    "budgets",
    budgets.data.data.map((/** @type {any} */ b) => {
      // Spent only: what instances hold in reserve for calls in flight is not spend.
      const spent = b.current ? Number(b.current.spent) : 0;
      const meter = document.createElement("meter");
      meter.className = "meter";
      meter.min = 0;
      meter.max = Number(b.limit);
      meter.value = Math.min(spent, Number(b.limit));
      if (b.warnAt) meter.high = Number(b.warnAt);
      meter.setAttribute("aria-label", `${b.name}: ${((spent / Number(b.limit)) * 100).toFixed(0)}% of its limit`);
      return [b.name, b.target ? `${b.scope} ${b.target}` : b.scope, `${b.window} (${b.timezone})`, `${money(String(spent))} / ${b.limit}${b.current?.exhausted ? " (exhausted)" : ""}`, meter, limitEditor(b)];
    }),
  );
  fill(
    "routes",
    routes.data.data.map((/** @type {any} */ r) => {
      const edit = document.createElement("button");
      edit.type = "button";
      edit.textContent = "Edit";
      edit.setAttribute("aria-label", `Edit ${r.name}`);
      edit.addEventListener("click", () => editRoute(r));
      return [r.name, r.candidates.join(" → ") || "nothing", r.source, r.problem ?? "", edit];
    }),
  );
  fill(
    "toggles",
    toggles.data.data.map((/** @type {any} */ t) => {
      const name = document.createElement("span");
      name.textContent = t.name;
      if (t.locked) {
        name.className = "locked";
        name.title = "Locked: changed only by an admin";
      }
      const flip = document.createElement("button");
      flip.type = "button";
      flip.textContent = t.enabled ? "Turn off" : "Turn on";
      flip.setAttribute("aria-label", `${flip.textContent} ${t.name}`);
      flip.addEventListener("click", () => void flipToggle(t));
      return [name, `${t.enabled ? "on" : "off"}${t.locked ? " (locked)" : ""}`, t.controlledBy, t.notes ?? "", flip];
    }),
  );
  fill(
    "prices",
    prices.data.data.map((/** @type {any} */ p) => [p.model, p.price ? priceText(p.price.price) : "no price (charged as missing)", p.price?.origin ?? "", when(p.price?.effectiveFrom)]),
  );
  const global = state.data.global;
  const on = global?.active === true;
  const line = $("kill-state");
  line.className = `state ${on ? "on" : "off"}`;
  line.textContent = on ? `ON: calls are stopped. Flipped by ${global.updatedBy} at ${when(global.updatedAt)}: ${global.reason}` : `OFF: calls flow.${global ? ` Last flipped by ${global.updatedBy} at ${when(global.updatedAt)}.` : ""}`;
  $("kill-flip").textContent = on ? "Let calls through" : "Stop all calls";
  $("kill-flip").dataset.active = String(!on);
  fill(
    "keys",
    keys.data.data.map((/** @type {any} */ k) => {
      const revoke = document.createElement("button");
      revoke.type = "button";
      revoke.textContent = "Revoke";
      revoke.setAttribute("aria-label", `Revoke ${k.name}`);
      revoke.disabled = k.revokedAt !== null;
      revoke.addEventListener("click", () => void revokeKey(k));
      return [k.name, k.kind, k.prefix, when(k.createdAt), k.revokedAt ? `revoked ${when(k.revokedAt)}` : "active", revoke];
    }),
  );
}

/**
 * Turns a toggle on or off (audited). A locked toggle asks first: it is locked so that only a person decides.
 * @param {{name: string, enabled: boolean, locked: boolean}} toggle
 */
async function flipToggle(toggle) {
  const to = toggle.enabled ? "off" : "on";
  if (!(await confirmAction(`Turn ${to} "${toggle.name}"?${toggle.locked ? " It is locked: agents cannot change it." : ""}`))) return;
  try {
    await api("PATCH", `/v1/toggles/${encodeURIComponent(toggle.name)}`, { enabled: !toggle.enabled });
    say(`Toggle "${toggle.name}" is ${to}.`);
  } catch (err) {
    say(/** @type {Error} */ (err).message);
  }
  await loadControls();
}

/**
 * A budget's new limit, set in place (audited). Its warning amount stays where it was while it is still
 * under the new limit; otherwise it goes back to its default, 80% of the limit.
 * @param {any} budget
 */
function limitEditor(budget) {
  const form = document.createElement("form");
  form.className = "inline";
  const input = document.createElement("input");
  input.inputMode = "decimal";
  input.required = true;
  input.value = budget.limit;
  input.setAttribute("aria-label", `New limit of ${budget.name} (USD)`);
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = "Set";
  save.setAttribute("aria-label", `Set the limit of ${budget.name}`);
  form.append(input, save);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const limit = input.value.trim();
    const keepWarning = budget.warnAt !== null && Number(budget.warnAt) <= Number(limit);
    const body = { scope: budget.scope, ...(budget.target ? { target: budget.target } : {}), window: budget.window, timezone: budget.timezone, limit, ...(keepWarning ? { warnAt: budget.warnAt } : {}) };
    try {
      const { status, data } = await api("PUT", `/admin/budgets/${encodeURIComponent(budget.name)}`, body);
      say(status === 202 ? `The change needs an approval: change request ${data.id} was made.` : `Budget ${budget.name} now allows $${limit}.`);
    } catch (err) {
      say(/** @type {Error} */ (err).message);
    }
    await loadControls();
  });
  return form;
}

/** The route being edited. */
let editing = "";

/** @param {{name: string, definition: unknown}} route */
function editRoute(route) {
  editing = route.name;
  $("route-label").textContent = `Definition of ${route.name} (JSON)`;
  /** @type {HTMLTextAreaElement} */ ($("route-definition")).value = JSON.stringify(route.definition, null, 2);
  $("route-error").textContent = "";
  $("route-form").hidden = false;
  $("route-definition").focus();
}

/** Saves the edited route; the store's validation (models, tiers, fallbacks, templates) answers inline. */
async function saveRoute() {
  let definition;
  try {
    definition = JSON.parse(/** @type {HTMLTextAreaElement} */ ($("route-definition")).value);
  } catch (err) {
    $("route-error").textContent = `Not JSON: ${/** @type {Error} */ (err).message}`;
    return;
  }
  try {
    const { status, data } = await api("PUT", `/admin/routes/${encodeURIComponent(editing)}`, definition);
    $("route-form").hidden = true;
    say(status === 202 ? `The change needs an approval: change request ${data.id} was made.` : `Route ${editing} saved.`);
    await loadControls();
  } catch (err) {
    $("route-error").textContent = /** @type {Error} */ (err).message;
  }
}

/** @param {string} text */
function confirmAction(text) {
  const dialog = /** @type {HTMLDialogElement} */ ($("confirm-dialog"));
  $("confirm-text").textContent = text;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true }));
}

/** @param {{id: string, name: string}} key */
async function revokeKey(key) {
  if (!(await confirmAction(`Revoke the key "${key.name}"? Calls with it stop at once.`))) return;
  await api("DELETE", `/admin/keys/${encodeURIComponent(key.id)}`);
  say(`Key "${key.name}" revoked.`);
  await loadControls();
}

async function loadChanges() {
  const action = /** @type {HTMLInputElement} */ ($("audit-action")).value.trim();
  const [changes, audit] = await Promise.all([api("GET", "/admin/change-requests?status=PENDING"), api("GET", `/admin/audit?since=30d${action ? `&action=${encodeURIComponent(action)}` : ""}`)]);
  const list = $("change-list");
  list.replaceChildren();
  if (changes.data.data.length === 0) list.textContent = "No change requests wait for a decision.";
  for (const change of changes.data.data) list.append(changeCard(change));
  fill(
    "audit",
    audit.data.data.map((/** @type {any} */ e) => [when(e.ts), e.action, e.target, `${e.actor} (${e.actorKind})`, e.outcome, e.reason ?? ""]),
  );
}

/** @param {any} change */
function changeCard(change) {
  const card = document.createElement("article");
  card.className = "change";
  card.setAttribute("aria-label", `Change request ${change.id}`);
  const title = document.createElement("h3");
  title.textContent = `${change.kind} ${change.target}: ${change.category}`;
  const facts = document.createElement("p");
  const impact = change.impact ? ` Projected monthly change: $${money(change.impact.projectedMonthlyChangeUsd)}.` : "";
  facts.textContent = `Requested by ${change.requestedBy} (${change.requestedByKind}), expires ${when(change.expiresAt)}. Estimated savings: ${change.estimatedSavingsUsd ?? "–"}. Quality impact: ${change.qualityImpact ?? "–"}. Confidence: ${change.confidence ?? "–"}.${impact}`;
  const reasoning = document.createElement("p");
  reasoning.textContent = change.reasoning ? `Reasoning: ${change.reasoning}` : "";
  const sides = document.createElement("div");
  sides.className = "sides";
  for (const [label, value] of [["Current", change.current], ["Proposed", change.proposed]]) {
    const side = document.createElement("div");
    const heading = document.createElement("h4");
    heading.textContent = label;
    const pre = document.createElement("pre");
    pre.textContent = JSON.stringify(value, null, 2);
    side.append(heading, pre);
    sides.append(side);
  }
  const actions = document.createElement("div");
  actions.className = "row";
  // Approval is offered only where it is allowed: never on one's own proposal.
  const own = change.requestedBy === me;
  if (own) {
    const note = document.createElement("p");
    note.textContent = "You proposed this change: another admin approves it.";
    actions.append(note);
  }
  for (const decision of own ? ["reject"] : ["approve", "reject"]) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = decision === "approve" ? "Approve" : "Reject";
    if (decision === "reject") button.className = "danger";
    button.setAttribute("aria-label", `${button.textContent} ${change.id}`);
    button.addEventListener("click", () => void decide(change, decision));
    actions.append(button);
  }
  card.append(title, facts, reasoning, sides, actions);
  return card;
}

/**
 * @param {any} change
 * @param {string} decision
 */
async function decide(change, decision) {
  if (!(await confirmAction(`${decision === "approve" ? "Approve and apply" : "Reject"} change request ${change.id}?`))) return;
  try {
    await api("POST", `/admin/change-requests/${encodeURIComponent(change.id)}/${decision}`, {});
    say(`Change request ${change.id} ${decision === "approve" ? "approved and applied" : "rejected"}.`);
  } catch (err) {
    say(/** @type {Error} */ (err).message);
  }
  await loadChanges();
}

async function start() {
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = /** @type {HTMLInputElement} */ ($("login-key"));
    try {
      const { data } = await api("POST", "/dashboard/login", { key: input.value });
      csrf = data.csrf;
      me = data.keyId;
      input.value = "";
      $("login-error").textContent = "";
      say(`Signed in as ${data.name}.`);
      showTab("overview");
    } catch (err) {
      $("login-error").textContent = /** @type {Error} */ (err).message;
    }
  });
  $("logout").addEventListener("click", async () => {
    await api("POST", "/dashboard/logout", {});
    showLogin();
    say("Signed out.");
  });
  for (const button of document.querySelectorAll("#tabs button")) button.addEventListener("click", () => showTab(/** @type {HTMLElement} */ (button).dataset.tab ?? "overview"));
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    loadOverview().catch((err) => say(err.message));
  });
  $("audit-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    loadChanges().catch((err) => say(err.message));
  });
  $("kill-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const active = $("kill-flip").dataset.active === "true";
    const reason = /** @type {HTMLInputElement} */ ($("kill-reason")).value.trim();
    if (!(await confirmAction(active ? "Stop every AI call through Airlock now?" : "Let AI calls through again?"))) return;
    try {
      await api("POST", "/admin/kill-switch", { active, reason });
      /** @type {HTMLInputElement} */ ($("kill-reason")).value = "";
      say(active ? "Kill switch ON: calls are stopped." : "Kill switch OFF: calls flow.");
    } catch (err) {
      say(/** @type {Error} */ (err).message);
    }
    await loadControls();
  });
  $("route-form").addEventListener("submit", (event) => {
    event.preventDefault();
    void saveRoute();
  });
  $("route-cancel").addEventListener("click", () => {
    $("route-form").hidden = true;
  });
  $("key-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = /** @type {HTMLInputElement} */ ($("key-name")).value.trim();
    const kind = /** @type {HTMLSelectElement} */ ($("key-kind")).value;
    try {
      const { data } = await api("POST", "/admin/keys", { name, kind });
      $("new-key-value").textContent = data.key;
      $("new-key").hidden = false;
      /** @type {HTMLInputElement} */ ($("key-name")).value = "";
      say(`Key "${name}" created.`);
    } catch (err) {
      say(/** @type {Error} */ (err).message);
    }
    await loadControls();
  });
  try {
    const { data } = await api("GET", "/dashboard/session");
    csrf = data.csrf;
    me = data.keyId;
    showTab("overview");
  } catch {
    showLogin();
  }
}

void start();
