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
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  const text = await res.text();
  const data = text ? JSON.parse(text) : undefined;
  if (res.status === 401 && path !== "/dashboard/login") session.signedOut();
  if (!res.ok) throw new Error(data?.error?.message ?? `${res.status}`);
  return { status: res.status, data };
}

/** @param {string} text */
export function say(text) {
  $("status").textContent = text;
}

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

/** @param {Record<string, unknown>} price */
export const priceText = (price) => Object.entries(price).filter(([, v]) => typeof v === "string" || typeof v === "number").map(([k, v]) => `${k} ${v}`).join(", ");
/** @param {string | null | undefined} iso */
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");
export { chartMoney, dollars, money, percentage, roundedMoney } from "./money.js";

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
  button.addEventListener("click", () => void onClick());
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
  const meter = document.createElement("meter");
  meter.className = "meter";
  meter.min = 0;
  meter.max = Number(b.limit);
  meter.value = Math.min(spent, Number(b.limit));
  if (b.warnAt) meter.high = Number(b.warnAt);
  meter.setAttribute("aria-label", `${b.name}: ${((spent / Number(b.limit)) * 100).toFixed(0)}% of its limit`);
  return [b.name, b.target ? `${b.scope} ${b.target}` : b.scope, `${b.window} (${b.timezone})`, `${money(b.current?.spent ?? "0")} / ${b.limit}${b.current?.exhausted ? " (exhausted)" : ""}`, meter];
}

/**
 * A row's values set in place: boxes and a "Set" button named for what it sets. `save` makes the change
 * and answers the status line; after it the controls are drawn again. On an error nothing changed,
 * so the boxes keep what was typed, to be corrected.
 * @param {Array<{label: string, value: string, mode: "decimal" | "numeric", required?: boolean}>} boxes
 * @param {string} setLabel
 * @param {(values: string[]) => Promise<string>} save
 * @param {() => Promise<void>} redraw
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
    try {
      say(await save(inputs.map((input) => input.value.trim())));
    } catch (err) {
      say(/** @type {Error} */ (err).message);
      return;
    }
    await redraw();
  });
  return form;
}
