// @ts-check
/**
 * Editing in place: routes, prices and rate limits. Each save is the admin API call a script would
 * make; each can instead become a change request, which waits in "Changes & audit" for another admin.
 */
import { $, api, inlineEditor, refresh } from "./lib.js";

/**
 * Reloads the controls after a change; set by `wireEditors`.
 * @type {(current?: () => boolean) => Promise<void>}
 */
let reload = async () => {};
/** The route and the model being edited. */
let route = "";
/** @type {{model: string, price: Record<string, unknown>} | undefined} */
let priced;

/** @param {string} id */
const field = (id) => /** @type {HTMLInputElement} */ ($(id));

/**
 * Makes a change request instead of applying the change, and says where it waits.
 * @param {string} kind
 * @param {string} target
 * @param {unknown} proposed
 * @param {string} reasoning
 */
async function propose(kind, target, proposed, reasoning) {
  const { data } = await api("POST", "/admin/change-requests", { kind, target, proposed, ...(reasoning ? { reasoning } : {}) });
  return `Change request ${data.id} for ${kind} ${target} waits for another admin's approval under "Changes & audit". Nothing changed yet.`;
}

/** @param {{name: string, definition: unknown}} chosen */
export function editRoute(chosen) {
  route = chosen.name;
  $("route-label").textContent = `Definition of ${chosen.name} (JSON)`;
  field("route-definition").value = JSON.stringify(chosen.definition, null, 2);
  field("route-reason").value = "";
  $("route-error").textContent = "";
  $("route-form").hidden = false;
  $("route-definition").focus();
}

/** The edited definition, or undefined (with the reason shown inline) when it is not JSON. */
function routeDefinition() {
  try {
    return JSON.parse(field("route-definition").value);
  } catch (err) {
    $("route-error").textContent = `Not JSON: ${/** @type {Error} */ (err).message}`;
    return undefined;
  }
}

/** @param {"save" | "propose"} how */
async function submitRoute(how) {
  const definition = routeDefinition();
  if (definition === undefined) return;
  try {
    // The store's validation (models, tiers, fallbacks, templates) answers inline, for either path.
    let outcome;
    if (how === "propose") outcome = await propose("route", route, definition, field("route-reason").value.trim());
    else {
      // A dashboard session is an admin's: a direct change applies at once.
      await api("PUT", `/admin/routes/${encodeURIComponent(route)}`, definition);
      outcome = `Route ${route} saved.`;
    }
    $("route-form").hidden = true;
    await refresh(reload, outcome);
  } catch (err) {
    $("route-error").textContent = /** @type {Error} */ (err).message;
  }
}

/** @param {{model: string, price: {price: Record<string, unknown>} | null}} line */
export function editPrice(line) {
  const current = line.price?.price ?? {};
  priced = { model: line.model, price: current };
  $("price-title").textContent = `Price of ${line.model}`;
  field("price-input").value = String(current.input ?? "");
  field("price-output").value = String(current.output ?? "");
  field("price-cached").value = current.cachedInput === undefined ? "" : String(current.cachedInput);
  field("price-per").value = String(current.per ?? "1M");
  field("price-reason").value = "";
  $("price-error").textContent = "";
  $("price-form").hidden = false;
  $("price-input").focus();
}

/** The price as edited: the fields shown, over whatever else the price sets (request fees, audio, …). */
function editedPrice() {
  const { cachedInput: _dropped, ...rest } = priced?.price ?? {};
  const cached = field("price-cached").value.trim();
  return { ...rest, input: field("price-input").value.trim(), output: field("price-output").value.trim(), per: field("price-per").value, ...(cached ? { cachedInput: cached } : {}) };
}

/** @param {"save" | "propose"} how */
async function submitPrice(how) {
  if (!priced) return;
  const { model } = priced;
  const price = editedPrice();
  try {
    let outcome;
    if (how === "propose") outcome = await propose("price", model, price, field("price-reason").value.trim());
    else {
      await api("POST", "/admin/prices", { model, price });
      outcome = `Price of ${model} set: input ${price.input}, output ${price.output} per ${price.per}. Past calls keep their cost.`;
    }
    $("price-form").hidden = true;
    await refresh(reload, outcome);
  } catch (err) {
    $("price-error").textContent = /** @type {Error} */ (err).message;
  }
}

/**
 * A rate limit's requests and tokens per minute, set in place (audited, on every instance at once).
 * An empty box means no limit of that kind.
 * @param {{name: string, scope: string, target?: string, requestsPerMinute?: number, tokensPerMinute?: number}} limit
 */
export function rateLimitEditor(limit) {
  /** @param {string} label @param {number | undefined} value */
  const box = (label, value) => ({ label: `${label} for ${limit.name}`, value: value === undefined ? "" : String(value), mode: /** @type {const} */ ("numeric") });
  const count = (/** @type {string} */ text) => (text ? Number(text) : undefined);
  return inlineEditor(
    [box("Requests per minute", limit.requestsPerMinute), box("Tokens per minute", limit.tokensPerMinute)],
    `Set the rate limit ${limit.name}`,
    async ([requests = "", tokens = ""]) => {
      const body = { scope: limit.scope, ...(limit.target ? { target: limit.target } : {}), requestsPerMinute: count(requests), tokensPerMinute: count(tokens) };
      const { data } = await api("PUT", `/admin/rate-limits/${encodeURIComponent(limit.name)}`, body);
      return `Rate limit ${limit.name} now allows ${data.requestsPerMinute ?? "any number of"} requests and ${data.tokensPerMinute ?? "any number of"} tokens a minute.`;
    },
    (current) => reload(current),
  );
}

/** @param {(current?: () => boolean) => Promise<void>} reloadControls */
export function wireEditors(reloadControls) {
  reload = reloadControls;
  $("route-form").addEventListener("submit", (event) => {
    event.preventDefault();
    void submitRoute("save");
  });
  $("route-propose").addEventListener("click", () => void submitRoute("propose"));
  $("route-cancel").addEventListener("click", () => {
    $("route-form").hidden = true;
  });
  $("price-form").addEventListener("submit", (event) => {
    event.preventDefault();
    void submitPrice("save");
  });
  $("price-propose").addEventListener("click", () => void submitPrice("propose"));
  $("price-cancel").addEventListener("click", () => {
    $("price-form").hidden = true;
  });
}
