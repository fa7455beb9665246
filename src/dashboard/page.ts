/**
 * The dashboard's page and styles. The page holds no data: the client script fills it from the admin
 * API, with `textContent` only, so nothing read from the ledger is ever parsed as HTML.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Airlock</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/app.css">
<script type="module" src="/dashboard/app.js"></script>
</head>
<body>
<header>
  <h1>Airlock</h1>
  <nav id="tabs" aria-label="Views" hidden>
    <button type="button" data-tab="overview" aria-pressed="true">Overview</button>
    <button type="button" data-tab="controls" aria-pressed="false">Controls</button>
    <button type="button" data-tab="changes" aria-pressed="false">Changes &amp; audit</button>
  </nav>
  <button type="button" id="logout" hidden>Sign out</button>
</header>
<main>
  <section id="login-view" aria-labelledby="login-title">
    <h2 id="login-title">Sign in</h2>
    <form id="login-form">
      <label for="login-key">Admin key</label>
      <input id="login-key" name="key" type="password" autocomplete="off" required>
      <button type="submit">Sign in</button>
    </form>
    <p id="login-error" role="alert"></p>
  </section>

  <section id="overview" data-view hidden aria-labelledby="overview-title">
    <h2 id="overview-title" tabindex="-1">Overview</h2>
    <form id="filters" class="row" aria-label="Filters">
      <label for="since">Time range</label>
      <select id="since" name="since">
        <option value="24h">Last 24 hours</option>
        <option value="7d" selected>Last 7 days</option>
        <option value="30d">Last 30 days</option>
      </select>
      <label for="filter-operation">Operation</label>
      <select id="filter-operation" name="operation"><option value="">All</option></select>
      <label for="filter-model">Model</label>
      <select id="filter-model" name="model"><option value="">All</option></select>
      <label for="filter-user">User</label>
      <input id="filter-user" name="user" list="known-users" maxlength="200" placeholder="All" autocomplete="off">
      <datalist id="known-users"></datalist>
      <button type="submit">Apply</button>
      <button type="button" id="filters-clear">Clear filters</button>
    </form>
    <p id="filter-basis" class="muted"></p>
    <div class="cards">
      <div class="card"><span class="label">Spend</span><span id="total-spend" class="value">–</span></div>
      <div class="card"><span class="label">Requests</span><span id="total-requests" class="value">–</span></div>
      <div class="card"><span class="label">Error rate</span><span id="error-rate" class="value">–</span></div>
      <div class="card"><span class="label">Latency p50 / p95</span><span id="latency" class="value">–</span></div>
      <div class="card"><span class="label">Time to first token p50 / p95</span><span id="ttft" class="value">–</span></div>
      <div class="card"><span class="label">Fallback rate</span><span id="fallback-rate" class="value">–</span></div>
    </div>
    <h3>Service levels</h3>
    <div id="slo" class="cards"></div>
    <h3>Budget burn</h3>
    <div class="scroll"><table id="budget-burn"><thead><tr><th>Budget</th><th>Scope</th><th>Window</th><th>Spent / limit (USD)</th><th>Burn</th></tr></thead><tbody></tbody></table></div>
    <div class="scroll"><h3>Errors by code</h3><table id="error-codes"><thead><tr><th>Code</th><th>Outcome</th><th>Calls</th><th>Share</th></tr></thead><tbody></tbody></table></div>
    <form id="chart-options" class="row" aria-label="Chart">
      <label for="stack-by">Split by</label>
      <select id="stack-by" name="stackBy"><option value="operation">Operation</option><option value="model">Model</option><option value="user">User</option><option value="key">Key</option></select>
      <label for="grain">Per</label>
      <select id="grain" name="grain"><option value="day">Day</option><option value="hour">Hour</option></select>
      <label for="only">Show</label>
      <select id="only" name="only"><option value="">All</option></select>
    </form>
    <h3 id="chart-title">Spend per day (UTC)</h3>
    <div id="spend-chart" class="chart" role="img" aria-label="Spend over time"></div>
    <ul id="chart-legend" class="legend"></ul>
    <details id="chart-data"><summary id="chart-data-title">Spend per day as a table</summary><div class="scroll"><table id="spend-table"><thead></thead><tbody></tbody></table></div></details>
    <div class="split">
      <div class="scroll"><h3>Top operations</h3><table id="by-operation"><thead><tr><th>Operation</th><th>Requests</th><th>Errors</th><th>Spend (USD)</th></tr></thead><tbody></tbody></table></div>
      <div class="scroll"><h3>Top models</h3><table id="by-model"><thead><tr><th>Model</th><th>Requests</th><th>Errors</th><th>Spend (USD)</th></tr></thead><tbody></tbody></table></div>
    </div>
    <div class="split">
      <div class="scroll"><h3>Top users</h3><table id="by-user"><thead><tr><th>User</th><th>Requests</th><th>Errors</th><th>Spend (USD)</th></tr></thead><tbody></tbody></table></div>
      <div class="scroll"><h3>Top keys</h3><table id="by-key"><thead><tr><th>Key</th><th>Requests</th><th>Errors</th><th>Spend (USD)</th></tr></thead><tbody></tbody></table></div>
    </div>
    <h3>Recent calls</h3>
    <div class="scroll"><table id="calls"><thead><tr><th>Time</th><th>Operation</th><th>Model</th><th>Status</th><th>Latency</th><th>Tokens in / out</th><th>Cost (USD)</th><th>User</th></tr></thead><tbody></tbody></table></div>
  </section>

  <section id="controls" data-view hidden aria-labelledby="controls-title">
    <h2 id="controls-title">Controls</h2>
    <div class="panel">
      <h3>Kill switch</h3>
      <p id="kill-state" class="state">–</p>
      <form id="kill-form" class="row">
        <label for="kill-scope">Switch</label>
        <select id="kill-scope" name="operation"><option value="">all calls</option></select>
        <label for="kill-reason">Reason</label>
        <input id="kill-reason" name="reason" required maxlength="500">
        <button type="submit" id="kill-flip" class="danger">Stop all calls</button>
      </form>
      <div class="scroll"><h3>Operations switched on their own</h3><table id="kill-operations"><thead><tr><th>Operation</th><th>State</th><th>Reason</th><th>Flipped by</th></tr></thead><tbody></tbody></table></div>
    </div>
    <div class="panel">
      <h3>API keys</h3>
      <form id="key-form" class="row">
        <label for="key-name">Name</label>
        <input id="key-name" name="name" required maxlength="100">
        <label for="key-kind">Kind</label>
        <select id="key-kind" name="kind"><option>service</option><option>user</option><option>agent</option><option>admin</option></select>
        <button type="submit">Create key</button>
      </form>
      <div id="new-key" class="notice" hidden role="status">
        <p>Copy this key now: it is shown once.</p>
        <code id="new-key-value"></code>
      </div>
      <div class="scroll"><table id="keys"><thead><tr><th>Name</th><th>Kind</th><th>Prefix</th><th>Created</th><th>Status</th><th><span class="sr-only">Action</span></th></tr></thead><tbody></tbody></table></div>
    </div>
    <div class="panel">
      <h3>Budgets and rate limits</h3>
      <div class="scroll"><table id="budgets"><thead><tr><th>Budget</th><th>Scope</th><th>Window</th><th>Spent / limit (USD)</th><th>Burn</th><th>New limit</th></tr></thead><tbody></tbody></table></div>
      <h3>Rate limits</h3>
      <div class="scroll"><table id="rate-limits"><thead><tr><th>Limit</th><th>Scope</th><th>Requests / minute</th><th>Tokens / minute</th><th>Set by</th><th>New requests / tokens per minute</th></tr></thead><tbody></tbody></table></div>
    </div>
    <div class="panel">
      <h3>Routes</h3>
      <p class="muted">A route saved here applies at once on every instance, and is audited.</p>
      <div class="scroll"><table id="routes"><thead><tr><th>Operation</th><th>Resolves to</th><th>Source</th><th>Problem</th><th><span class="sr-only">Action</span></th></tr></thead><tbody></tbody></table></div>
      <form id="route-form" hidden>
        <label for="route-definition" id="route-label">Definition (JSON)</label>
        <textarea id="route-definition" rows="8" spellcheck="false"></textarea>
        <label for="route-reason">Why (for a change request)</label>
        <input id="route-reason" maxlength="10000">
        <p id="route-error" class="error" role="alert"></p>
        <div class="row"><button type="submit">Save route</button><button type="button" id="route-propose">Propose as change request</button><button type="button" id="route-cancel">Cancel</button></div>
      </form>
    </div>
    <div class="panel">
      <h3>Feature toggles</h3>
      <div class="scroll"><table id="toggles"><thead><tr><th>Toggle</th><th>State</th><th>Controlled by</th><th>Notes</th><th><span class="sr-only">Action</span></th></tr></thead><tbody></tbody></table></div>
    </div>
    <div class="panel">
      <h3>Models and prices</h3>
      <p class="muted">A new price applies to calls from now on; past calls keep their cost.</p>
      <div class="scroll"><table id="prices"><thead><tr><th>Model</th><th>Price</th><th>Origin</th><th>Since</th><th><span class="sr-only">Action</span></th></tr></thead><tbody></tbody></table></div>
      <form id="price-form" hidden>
        <h4 id="price-title">Price</h4>
        <div class="row">
          <label for="price-input">Input (USD)</label><input id="price-input" inputmode="decimal" required size="10">
          <label for="price-output">Output (USD)</label><input id="price-output" inputmode="decimal" required size="10">
          <label for="price-cached">Cached input (USD)</label><input id="price-cached" inputmode="decimal" size="10" placeholder="as input">
          <label for="price-per">Priced per</label><select id="price-per"><option value="1M">1M tokens</option><option value="1K">1K tokens</option><option value="1">token</option></select>
        </div>
        <label for="price-reason">Why (for a change request)</label>
        <input id="price-reason" maxlength="10000">
        <p id="price-error" class="error" role="alert"></p>
        <div class="row"><button type="submit">Save price</button><button type="button" id="price-propose">Propose as change request</button><button type="button" id="price-cancel">Cancel</button></div>
      </form>
    </div>
  </section>

  <section id="changes" data-view hidden aria-labelledby="changes-title">
    <h2 id="changes-title">Change requests</h2>
    <div id="change-list"></div>
    <h2>Audit log</h2>
    <form id="audit-filter" class="row">
      <label for="audit-action">Action</label>
      <input id="audit-action" name="action" placeholder="change_request.">
      <button type="submit">Filter</button>
    </form>
    <div class="scroll"><table id="audit"><thead><tr><th>Time</th><th>Action</th><th>Target</th><th>Actor</th><th>Outcome</th><th>Reason</th></tr></thead><tbody></tbody></table></div>
  </section>
</main>
<dialog id="confirm-dialog" aria-labelledby="confirm-text">
  <form method="dialog">
    <p id="confirm-text"></p>
    <div class="row"><button value="cancel" type="submit">Cancel</button><button value="confirm" type="submit" class="danger">Confirm</button></div>
  </form>
</dialog>
<footer><p id="status" role="status" aria-live="polite" tabindex="-1"></p></footer>
</body>
</html>
`;

export const DASHBOARD_CSS = `:root { color-scheme: light; --fg: #1b1f24; --muted: #5b6470; --line: #d8dde3; --accent: #1f5fbf; --danger: #b3261e; --ok: #1e7d32; font-family: system-ui, sans-serif; }
* { box-sizing: border-box; }
/* A rule that sets display (nav's flex) would otherwise show what the page hides: the tabs before sign-in. */
[hidden] { display: none !important; }
body { margin: 0; color: var(--fg); background: #f6f7f9; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .75rem 1rem; background: #fff; border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.2rem; margin: 0; }
nav { display: flex; gap: .5rem; flex-wrap: wrap; }
main { padding: 1rem; max-width: 1200px; margin: 0 auto; }
button, input, select { font: inherit; padding: .4rem .7rem; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
button { cursor: pointer; }
button[aria-pressed="true"] { background: var(--accent); color: #fff; border-color: var(--accent); }
button.danger { background: var(--danger); color: #fff; border-color: var(--danger); }
button:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid #8ab4f8; outline-offset: 1px; }
.row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: .5rem 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: .75rem; margin: 1rem 0; }
.card, .panel { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; }
.panel { margin-bottom: 1rem; }
.card .label { display: block; color: var(--muted); font-size: .85rem; }
.card .value { font-size: 1.4rem; font-weight: 600; }
.card.breach { border-color: var(--danger); background: #fdecea; }
.card.breach .value { color: var(--danger); }
.card .limit { display: block; color: var(--muted); font-size: .8rem; }
.split { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(320px, 100%), 1fr)); gap: 1rem; }
.split > * { min-width: 0; }
/* Positioned, so that what is absolutely placed inside (a column's screen-reader label) scrolls with the table, not the page. */
.scroll { overflow-x: auto; position: relative; }
table { width: 100%; border-collapse: collapse; background: #fff; font-size: .9rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.chart svg { width: 100%; height: 180px; background: #fff; border: 1px solid var(--line); border-radius: 8px; }
.legend { display: flex; flex-wrap: wrap; gap: .75rem; list-style: none; padding: 0; margin: .5rem 0; font-size: .85rem; }
.legend .swatch { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; border-radius: 2px; vertical-align: middle; }
.chart text { font-size: 10px; fill: var(--muted); }
#chart-data summary { cursor: pointer; font-size: .85rem; margin: .25rem 0; }
th.num { text-align: right; }
.state.on { color: var(--danger); font-weight: 600; }
.state.off { color: var(--ok); font-weight: 600; }
.meter { width: 100%; min-width: 80px; }
.inline { display: flex; gap: .3rem; }
.inline input { width: 6rem; }
#route-reason, #price-reason { display: block; width: 100%; margin-top: .25rem; }
#chart-options { margin-top: 1.25rem; }
.locked { font-weight: 600; }
.notice { background: #fff8e1; border: 1px solid #f0c36d; border-radius: 6px; padding: .5rem .75rem; margin: .5rem 0; }
.notice code { word-break: break-all; }
.change { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; margin-bottom: .75rem; }
.change pre { background: #f3f4f6; padding: .5rem; border-radius: 6px; overflow-x: auto; font-size: .8rem; margin: 0; }
.sides { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(240px, 100%), 1fr)); gap: .75rem; }
.sides > * { min-width: 0; }
#login-error, .error { color: var(--danger); }
textarea { width: 100%; font: .85rem ui-monospace, monospace; padding: .5rem; border: 1px solid var(--line); border-radius: 6px; }
footer { padding: 0 1rem 1rem; max-width: 1200px; margin: 0 auto; }
.muted { color: var(--muted); font-size: .85rem; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
@media (max-width: 480px) { main { padding: .5rem; } th, td { padding: .3rem; } }
`;
