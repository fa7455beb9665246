// @ts-check
/**
 * The kill switch's panel: the switch for all calls, each operation's own, and a form that flips the
 * one chosen. An operation stopped on its own is shown even while all calls flow: its calls are refused.
 */
import { $, api, confirmAction, failed, fill, keyLabel, refresh, when } from "./lib.js";

/** @typedef {{ active: boolean, reason: string, updatedBy: string, updatedAt: string }} Flip */
/** @typedef {{ global: Flip | null, operations: Array<Flip & { operation: string }>, confirmed: boolean }} KillState */

/** @type {KillState | undefined} */
let shown;

/**
 * @param {KillState} state
 * @param {string[]} operations every operation, for the form's choice
 * @param {(id: string) => string} nameOf a key by its name (see namesOfKeys)
 */
export function renderKillSwitch(state, operations, nameOf) {
  shown = state;
  const scope = /** @type {HTMLSelectElement} */ ($("kill-scope"));
  const chosen = scope.value;
  scope.replaceChildren(new Option("all calls", ""), ...operations.map((name) => new Option(`operation ${name}`, name)));
  scope.value = operations.includes(chosen) ? chosen : "";

  const global = state.global;
  const stopped = state.operations.filter((o) => o.active).map((o) => o.operation);
  const line = $("kill-state");
  const by = (/** @type {Flip} */ flip) => keyLabel(nameOf, flip.updatedBy);
  if (!state.confirmed) {
    line.className = "state on";
    line.textContent = "UNKNOWN: this instance cannot confirm the switch's state with the store, so its calls are stopped until it can.";
  } else if (global?.active) {
    line.className = "state on";
    line.replaceChildren("ON: calls are stopped. Flipped by ", by(global), ` at ${when(global.updatedAt)}: ${global.reason}`);
  } else {
    line.className = `state ${stopped.length > 0 ? "on" : "off"}`;
    const last = global ? [" Last flipped by ", by(global), ` at ${when(global.updatedAt)}.`] : [];
    line.replaceChildren(stopped.length > 0 ? `OFF for all calls, but ON for ${stopped.length === 1 ? "operation" : "operations"} ${stopped.join(", ")}: their calls are stopped.` : "OFF: calls flow.", ...last);
  }
  fill(
    "kill-operations",
    state.operations.map((o) => {
      const flipped = document.createElement("span");
      flipped.append(by(o), `, ${when(o.updatedAt)}`);
      return [o.operation, o.active ? "ON: calls stopped" : "off", o.reason, flipped];
    }),
    "No operation has been switched on its own.",
  );
  showChoice();
}

/** The button says what submitting does to the scope chosen. */
function showChoice() {
  const operation = /** @type {HTMLSelectElement} */ ($("kill-scope")).value;
  const on = operation ? shown?.operations.some((o) => o.operation === operation && o.active) === true : shown?.global?.active === true;
  const flip = $("kill-flip");
  flip.textContent = operation ? (on ? `Let ${operation} through` : `Stop ${operation}`) : on ? "Let calls through" : "Stop all calls";
  flip.dataset.active = String(!on);
}

/** @param {(current?: () => boolean) => Promise<void>} reload */
export function wireKillSwitch(reload) {
  $("kill-scope").addEventListener("change", showChoice);
  $("kill-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const active = $("kill-flip").dataset.active === "true";
    const operation = /** @type {HTMLSelectElement} */ ($("kill-scope")).value;
    const reason = /** @type {HTMLInputElement} */ ($("kill-reason")).value.trim();
    const question = operation ? (active ? `Stop every call of operation ${operation} now?` : `Let the calls of operation ${operation} through again?`) : active ? "Stop every AI call through Airlock now?" : "Let AI calls through again?";
    if (!(await confirmAction(question))) return;
    const what = operation ? ` for operation ${operation}` : "";
    let outcome;
    try {
      await api("POST", "/admin/kill-switch", { active, reason, ...(operation ? { operation } : {}) });
      /** @type {HTMLInputElement} */ ($("kill-reason")).value = "";
      outcome = active ? `Kill switch ON${what}: calls are stopped.` : `Kill switch OFF${what}: calls flow.`;
    } catch (err) {
      outcome = failed(`Kill switch not turned ${active ? "on" : "off"}${what}`, err);
    }
    await refresh(reload, outcome);
  });
}
