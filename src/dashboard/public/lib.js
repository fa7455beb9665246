// @ts-check
/**
 * What every view uses: the admin API with the session's CSRF token, and writing values as text.
 * Everything shown is written with `textContent`, never as HTML.
 */
import { money } from "./money.js";

export const session = {
  /** @type {string | undefined} */
  csrf: undefined,
  /** The signed-in key: the dashboard offers no approval of its own proposals. */
  me: "",
  /** Called when the API says the session is gone. */
  signedOut: () => {},
};

/** @param {string} id */
export const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
export async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && session.csrf) headers["x-csrf-token"] = session.csrf;
  let res;
  let text;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
    text = await res.text();
  } catch (err) {
    // No answer, or half of one: the browser's own words ("Failed to fetch") do not say whose fault it is.
    throw new Error(`no answer from the gateway, which may be restarting (${/** @type {Error} */ (err).message})`);
  }
  let data;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    // Not the gateway's own answer (a proxy's error page): said by its status, not as a JSON syntax error.
    throw new Error(`the gateway answered ${res.status} ${res.statusText}`.trim());
  }
  if (res.status === 401 && path !== "/dashboard/login") session.signedOut();
  if (res.status === 403 && data?.error?.param === "x-csrf-token" && headers["x-csrf-token"]) throw await renewed();
  if (!res.ok) throw new Error(data?.error?.message ?? `the gateway answered ${res.status}`);
  return { status: res.status, data };
}

/**
 * Who the browser's cookie signs in, taken as this page's session; undefined when it signs in no one
 * (the session read answers `signedIn: false` rather than 401, so that a page opened signed out logs no error).
 * @returns {Promise<{name: string, keyId: string} | undefined>}
 */
export async function readSession() {
  const { data } = await api("GET", "/dashboard/session");
  if (!data?.signedIn) return undefined;
  session.csrf = data.csrf;
  session.me = data.keyId;
  return data;
}

/**
 * The page's token was refused: the browser's cookie is no longer this page's session, because another
 * tab signed out and in again (as another admin, maybe). The page takes the cookie's session as its own,
 * since that is whom its reads are answered as; the change that was refused is not made again for it.
 * Signed out meanwhile, the page shows the sign-in form.
 */
async function renewed() {
  const now = await readSession();
  if (!now) {
    session.signedOut();
    return new Error("not signed in");
  }
  return Object.assign(new Error(`this browser was signed in again in another tab, as ${now.name}, so nothing was changed; the page now acts as ${now.name}`), { renewed: true });
}

/** @param {string} text */
export function say(text) {
  const status = $("status");
  status.textContent = text;
  delete status.dataset.stale;
}

/** Counts the page's reads: a view drawn only by the newest (see `refresh`). */
let reads = 0;

/**
 * Reads a view again, and never throws: every action ends with one. `outcome`, what the action did or
 * why it failed, is said once the view is drawn again, so that what the line says is what the page
 * shows (a keyboard or screen reader user acting on it acts on the new rows, not on the ones they
 * replace). A read that fails says so after the outcome, as what the page shows may then be out of
 * date; the next read that succeeds takes that back.
 * A view is drawn by its newest read only (`current` tells it): an older read answering later, as when
 * the chart's split is changed twice in a row, would draw the first choice over the second.
 * @param {(current: () => boolean) => Promise<void>} view
 * @param {string} [outcome]
 */
export async function refresh(view, outcome) {
  const refocus = focusKeeper();
  const read = ++reads;
  try {
    await view(() => read === reads);
    refocus();
    if (outcome !== undefined) say(outcome);
    else if ($("status").dataset.stale) say("");
  } catch (err) {
    const cause = /** @type {Error} */ (err).message;
    const stale = outcome?.includes(cause) ? "What the page shows may be out of date." : `${sentence(`The page was not read again: ${cause}`)} What it shows may be out of date.`;
    say(outcome ? `${outcome} ${stale}` : stale);
    $("status").dataset.stale = "true";
  }
}

/**
 * A view drawn again replaces the control that had the focus (the row's button just used), and the
 * focus fell back to the page's top: a keyboard user lost their place after every action. The focus
 * goes back to the control drawn in its place: the one named the same, else the one in the same cell
 * of the same table ("Turn on" became "Turn off"). When that one is disabled (a key's "Revoke", once
 * revoked) or gone (a change request decided), it goes to the same column's control in the next row
 * that takes it, else in the row before, else to the status line, which says what the action did.
 */
function focusKeeper() {
  const before = document.activeElement;
  if (!(before instanceof HTMLElement) || before === document.body) return () => {};
  const label = before.getAttribute("aria-label");
  // Read now: once the row is replaced it is detached, and knows no index.
  const cell = before.closest("td");
  const row = cell?.parentElement;
  const at = row instanceof HTMLTableRowElement && cell ? { table: before.closest("table")?.id, row: row.sectionRowIndex, cell: cell.cellIndex } : undefined;
  return () => {
    if (before.isConnected) return;
    const named = label ? [...document.querySelectorAll("[aria-label]")].find((el) => el.getAttribute("aria-label") === label) : undefined;
    const rows = at?.table ? [...(document.getElementById(at.table)?.querySelector("tbody")?.rows ?? [])] : [];
    const inColumn = (/** @type {HTMLTableRowElement | undefined} */ row) => (at ? row?.cells[at.cell]?.querySelector("button, input, select") : undefined);
    const column = at ? [...rows.slice(at.row), ...rows.slice(0, at.row).reverse()].map(inColumn) : [];
    for (const target of [named, ...column]) {
      if (target instanceof HTMLElement && !target.matches(":disabled")) return target.focus();
    }
    $("status").focus();
  };
}

/**
 * What an action failed with, for the status line.
 * @param {string} what
 * @param {unknown} err
 */
export const failed = (what, err) => sentence(`${what}: ${/** @type {Error} */ (err).message}`);

/** @param {string} text */
const sentence = (text) => (/[.!?]$/.test(text) ? text : `${text}.`);

/**
 * A table body filled from rows of cells; each cell is text, or a node (a button).
 * @param {string} id
 * @param {Array<Array<string | number | Node>>} rows
 * @param {string} [empty]
 */
export function fill(id, rows, empty = "Nothing yet.") {
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

/**
 * The store keeps a key's id (in the ledger, the audit log, a change request); a key is shown by its name
 * and the prefix its holder sees ("reporting (sk-al-NnOP-T…)"), as in the keys table. One the store does
 * not list (the bootstrap admin, the library, `cli:<user>`) is shown as it is.
 * @param {Array<{id: string, name: string, prefix: string}>} keys
 */
export function namesOfKeys(keys) {
  const names = new Map(keys.map((k) => [k.id, `${k.name} (${k.prefix}…)`]));
  return (/** @type {string} */ id) => names.get(id) ?? id;
}

/**
 * A key by its name, for a table cell or a sentence, with its id (what the API and CLI take) as its title.
 * @param {(id: string) => string} nameOf
 * @param {string} id
 */
export function keyLabel(nameOf, id) {
  const span = document.createElement("span");
  span.textContent = nameOf(id);
  if (span.textContent !== id) span.title = id;
  return span;
}

/** @param {string | null | undefined} iso */
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");
export { dollars, money, percentage, priceText, roundedMoney, units, unitsMoney } from "./money.js";

/** @param {string} text */
export function confirmAction(text) {
  const dialog = /** @type {HTMLDialogElement} */ ($("confirm-dialog"));
  $("confirm-text").textContent = text;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true }));
}

/**
 * A row's action button, named for screen readers by what it acts on ("Revoke reporting").
 * @param {string} text
 * @param {string} subject
 * @param {() => unknown} onClick
 */
export function actionButton(text, subject, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = text;
  button.setAttribute("aria-label", `${text} ${subject}`);
  // An action says its own failure; one that slipped through is still said, not left to the console.
  button.addEventListener("click", () => void Promise.resolve().then(onClick).catch((err) => say(/** @type {Error} */ (err).message)));
  return button;
}

/**
 * A budget's row: name, scope, window, spent against the limit, and a meter of its burn.
 * Spent only: what instances hold in reserve for calls in flight is not spend.
 * @param {any} b
 * @returns {Array<string | Node>}
 */
export function budgetBurn(b) {
  const spent = b.current ? Number(b.current.spent) : 0;
  const limit = Number(b.limit);
  const meter = document.createElement("meter");
  meter.className = "meter";
  meter.min = 0;
  meter.max = limit;
  meter.value = Math.min(spent, limit);
  if (b.warnAt) meter.high = Number(b.warnAt);
  meter.setAttribute("aria-label", `${b.name}: ${limit > 0 ? `${((spent / limit) * 100).toFixed(0)}% of its limit` : "a limit of 0"}`);
  const state = budgetState(b);
  return [b.name, b.target ? `${b.scope} ${b.target}` : b.scope, `${b.window} (${b.timezone})`, `${money(b.current?.spent ?? "0")} / ${b.limit}${state ? ` (${state})` : ""}`, meter];
}

/**
 * What a budget does to calls, when it refuses any. The window's `exhausted` says only that it refused
 * one (a call is refused when its worst case does not fit what is left), not that its money is spent:
 * a limit of 0 refuses every call with nothing spent, and a call whose worst case is larger than what
 * is left is refused while smaller ones still run.
 * @param {any} b
 */
export function budgetState(b) {
  if (!/[1-9]/.test(b.limit)) return "limit 0: refuses every call";
  if (b.current && !/[1-9]/.test(b.current.remaining)) return "exhausted";
  return b.current?.exhausted ? `refusing calls that could cost more than the $${money(b.current.remaining)} left` : "";
}

/**
 * A row's values set in place: boxes and a "Set" button named for what it sets. `save` makes the change
 * and answers the status line; after it the controls are drawn again. On an error nothing changed,
 * so the boxes keep what was typed, to be corrected.
 * @param {Array<{label: string, value: string, mode: "decimal" | "numeric", required?: boolean}>} boxes
 * @param {string} setLabel
 * @param {(values: string[]) => Promise<string>} save
 * @param {(current: () => boolean) => Promise<void>} redraw
 */
export function inlineEditor(boxes, setLabel, save, redraw) {
  const form = document.createElement("form");
  form.className = "inline";
  const inputs = boxes.map((box) => {
    const input = document.createElement("input");
    input.inputMode = box.mode;
    input.required = box.required === true;
    input.value = box.value;
    input.setAttribute("aria-label", box.label);
    return input;
  });
  const set = document.createElement("button");
  set.type = "submit";
  set.textContent = "Set";
  set.setAttribute("aria-label", setLabel);
  form.append(...inputs, set);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let outcome;
    try {
      outcome = await save(inputs.map((input) => input.value.trim()));
    } catch (err) {
      say(/** @type {Error} */ (err).message);
      return;
    }
    await refresh(redraw, outcome);
  });
  return form;
}
