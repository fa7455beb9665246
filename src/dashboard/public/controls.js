// @ts-check
/** The controls: kill switch, keys, budgets and rate limits, routes, toggles, prices. */
import { editPrice, editRoute, rateLimitEditor } from "./editors.js";
import { renderKillSwitch } from "./kill-switch.js";
import { $, actionButton, api, budgetBurn, confirmAction, failed, fill, inlineEditor, namesOfKeys, priceText, refresh, when } from "./lib.js";

/** @param {() => boolean} [current] false once a newer read has begun: this one then draws nothing */
export async function loadControls(current = () => true) {
  const [state, keys, budgets, routes, toggles, prices, limits] = await Promise.all(
    ["/admin/kill-switch", "/admin/keys", "/admin/budgets", "/admin/routes", "/v1/toggles", "/admin/prices", "/admin/rate-limits"].map((path) => api("GET", path)),
  );
  if (!current()) return;
  fill(
    "rate-limits",
    limits.data.data.map((/** @type {any} */ l) => [l.name, l.target ? `${l.scope} ${l.target}` : `${l.scope}${l.scope === "global" ? "" : " (each)"}`, l.requestsPerMinute ?? "–", l.tokensPerMinute ?? "–", l.source, rateLimitEditor(l)]),
    "No rate limits.",
  );
  fill(
    "budgets",
    budgets.data.data.map((/** @type {any} */ b) => [...budgetBurn(b), limitEditor(b)]),
  );
  fill(
    "routes",
    routes.data.data.map((/** @type {any} */ r) => {
      return [r.name, r.candidates.join(" → ") || "nothing", r.source, r.problem ?? "", actionButton("Edit", r.name, () => editRoute(r))];
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
      const flip = actionButton(t.enabled ? "Turn off" : "Turn on", t.name, () => flipToggle(t));
      return [name, `${t.enabled ? "on" : "off"}${t.locked ? " (locked)" : ""}`, t.controlledBy, t.notes ?? "", flip];
    }),
  );
  fill(
    "prices",
    prices.data.data.map((/** @type {any} */ p) => [p.model, p.price ? priceText(p.price.price) : "no price (charged as missing)", p.price?.origin ?? "", when(p.price?.effectiveFrom), actionButton("Edit price", p.model, () => editPrice(p))]),
  );
  renderKillSwitch(state.data, routes.data.data.map((/** @type {any} */ r) => r.name), namesOfKeys(keys.data.data));
  fill(
    "keys",
    keys.data.data.map((/** @type {any} */ k) => {
      const revoke = actionButton("Revoke", k.name, () => revokeKey(k));
      revoke.disabled = k.revokedAt !== null;
      return [k.name, k.kind, k.prefix, when(k.createdAt), keyStatus(k), revoke];
    }),
  );
}

/**
 * Whether a key still works, and until when: an expired key is refused as a revoked one is.
 * @param {{revokedAt: string | null, expiresAt: string | null}} k
 */
function keyStatus(k) {
  if (k.revokedAt) return `revoked ${when(k.revokedAt)}`;
  if (!k.expiresAt) return "active";
  return Date.parse(k.expiresAt) <= Date.now() ? `expired ${when(k.expiresAt)}` : `active until ${when(k.expiresAt)}`;
}

/**
 * Turns a toggle on or off (audited). A locked toggle asks first: it is locked so that only a person decides.
 * @param {{name: string, enabled: boolean, locked: boolean}} toggle
 */
async function flipToggle(toggle) {
  const to = toggle.enabled ? "off" : "on";
  if (!(await confirmAction(`Turn ${to} "${toggle.name}"?${toggle.locked ? " It is locked: agents cannot change it." : ""}`))) return;
  let outcome;
  try {
    await api("PATCH", `/v1/toggles/${encodeURIComponent(toggle.name)}`, { enabled: !toggle.enabled });
    outcome = `Toggle "${toggle.name}" is ${to}.`;
  } catch (err) {
    outcome = failed(`Toggle "${toggle.name}" not turned ${to}`, err);
  }
  await refresh(loadControls, outcome);
}

/**
 * A budget's new limit, set in place (audited). Its warning amount stays where it was while it is still
 * under the new limit; otherwise it goes back to its default, 80% of the limit.
 * @param {any} budget
 */
function limitEditor(budget) {
  const boxes = [{ label: `New limit of ${budget.name} (USD)`, value: budget.limit, mode: /** @type {const} */ ("decimal"), required: true }];
  return inlineEditor(
    boxes,
    `Set the limit of ${budget.name}`,
    async ([limit = ""]) => {
      const keepWarning = budget.warnAt !== null && Number(budget.warnAt) <= Number(limit);
      const body = { scope: budget.scope, ...(budget.target ? { target: budget.target } : {}), window: budget.window, timezone: budget.timezone, limit, ...(keepWarning ? { warnAt: budget.warnAt } : {}) };
      await api("PUT", `/admin/budgets/${encodeURIComponent(budget.name)}`, body);
      return `Budget ${budget.name} now allows $${limit}.`;
    },
    loadControls,
  );
}

/** @param {{id: string, name: string}} key */
async function revokeKey(key) {
  if (!(await confirmAction(`Revoke the key "${key.name}"? Calls with it stop at once.`))) return;
  let outcome;
  try {
    await api("DELETE", `/admin/keys/${encodeURIComponent(key.id)}`);
    outcome = `Key "${key.name}" revoked.`;
  } catch (err) {
    outcome = failed(`Key "${key.name}" not revoked`, err);
  }
  await refresh(loadControls, outcome);
}
