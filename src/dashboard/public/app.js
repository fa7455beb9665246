// @ts-check
/**
 * The dashboard's client. Everything it shows comes from the admin API and is written with
 * `textContent`, never as HTML; every change it makes is an admin API call carrying the session's
 * CSRF token. Plain JavaScript modules on purpose: the gateway serves them as they are, with no bundler.
 */
import { loadChanges } from "./changes.js";
import { loadControls } from "./controls.js";
import { wireEditors } from "./editors.js";
import { wireKillSwitch } from "./kill-switch.js";
import { $, api, failed, readSession, refresh, say, session } from "./lib.js";
import { loadOverview } from "./overview.js";

function showLogin() {
  session.csrf = undefined;
  $("login-view").hidden = false;
  $("tabs").hidden = true;
  $("logout").hidden = true;
  for (const view of document.querySelectorAll("[data-view]")) /** @type {HTMLElement} */ (view).hidden = true;
  // A key just created is shown once, to whoever created it: not to the next admin to sign in on this page.
  $("new-key-value").textContent = "";
  $("new-key").hidden = true;
  $("login-key").focus();
}

/** @param {string} name */
function showTab(name) {
  $("login-view").hidden = true;
  $("tabs").hidden = false;
  $("logout").hidden = false;
  for (const button of document.querySelectorAll("#tabs button")) button.setAttribute("aria-pressed", String(/** @type {HTMLElement} */ (button).dataset.tab === name));
  for (const view of document.querySelectorAll("[data-view]")) /** @type {HTMLElement} */ (view).hidden = view.id !== name;
  const load = { overview: loadOverview, controls: loadControls, changes: loadChanges }[name];
  if (load) void refresh(load);
}

async function start() {
  session.signedOut = showLogin;
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = /** @type {HTMLInputElement} */ ($("login-key"));
    try {
      const { data } = await api("POST", "/dashboard/login", { key: input.value });
      session.csrf = data.csrf;
      session.me = data.keyId;
      input.value = "";
      $("login-error").textContent = "";
      say(`Signed in as ${data.name}.`);
      showTab("overview");
      // The form that had the focus is gone: the keyboard starts again at the view's heading.
      $("overview-title").focus();
    } catch (err) {
      $("login-error").textContent = /** @type {Error} */ (err).message;
    }
  });
  $("logout").addEventListener("click", async () => {
    const signOut = () => api("POST", "/dashboard/logout", {});
    try {
      // A session another tab signed in meanwhile is this browser's now: signing out is meant for it too.
      await signOut().catch((err) => (err.renewed ? signOut() : Promise.reject(err)));
    } catch (err) {
      // Still signed in: the page stays as it was, and says why.
      say(failed("Not signed out", err));
      return;
    }
    showLogin();
    say("Signed out.");
  });
  for (const button of document.querySelectorAll("#tabs button")) button.addEventListener("click", () => showTab(/** @type {HTMLElement} */ (button).dataset.tab ?? "overview"));
  const reloadOverview = () => void refresh(loadOverview);
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    reloadOverview();
  });
  $("filters-clear").addEventListener("click", () => {
    for (const id of ["filter-operation", "filter-model", "filter-user"]) /** @type {HTMLInputElement} */ ($(id)).value = "";
    reloadOverview();
  });
  $("chart-options").addEventListener("change", reloadOverview);
  $("audit-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    void refresh(loadChanges);
  });
  wireKillSwitch(loadControls);
  wireEditors(loadControls);
  $("key-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = /** @type {HTMLInputElement} */ ($("key-name")).value.trim();
    const kind = /** @type {HTMLSelectElement} */ ($("key-kind")).value;
    let outcome;
    try {
      const { data } = await api("POST", "/admin/keys", { name, kind });
      $("new-key-value").textContent = data.key;
      $("new-key").hidden = false;
      /** @type {HTMLInputElement} */ ($("key-name")).value = "";
      outcome = `Key "${name}" created.`;
    } catch (err) {
      outcome = failed(`Key "${name}" not created`, err);
    }
    await refresh(loadControls, outcome);
  });
  try {
    if (await readSession()) showTab("overview");
    else showLogin();
  } catch (err) {
    showLogin();
    say(failed("Not known whether this browser is signed in", err));
  }
}

void start();
