// @ts-check
/** Change requests, side by side, and the audit log. */
import { $, actionButton, api, confirmAction, dollars, failed, fill, keyLabel, namesOfKeys, percentage, refresh, roundedMoney, session, when } from "./lib.js";

/** @param {() => boolean} [current] false once a newer read has begun: this one then draws nothing */
export async function loadChanges(current = () => true) {
  const action = /** @type {HTMLInputElement} */ ($("audit-action")).value.trim();
  const [changes, audit, keys] = await Promise.all([
    api("GET", "/admin/change-requests?status=PENDING"),
    api("GET", `/admin/audit?since=30d${action ? `&action=${encodeURIComponent(action)}` : ""}`),
    api("GET", "/admin/keys"),
  ]);
  if (!current()) return;
  const nameOf = namesOfKeys(keys.data.data);
  const list = $("change-list");
  list.replaceChildren();
  if (changes.data.data.length === 0) list.textContent = "No change requests wait for a decision.";
  for (const change of changes.data.data) list.append(changeCard(change, nameOf));
  fill(
    "audit",
    audit.data.data.map((/** @type {any} */ e) => [when(e.ts), e.action, e.target, byWhom(nameOf, e.actor, e.actorKind), e.outcome, e.reason ?? ""]),
  );
}

/**
 * Who did or asked for something: a key by its name, and what kind of key (or actor) it is.
 * @param {(id: string) => string} nameOf
 * @param {string} id
 * @param {string} kind
 */
function byWhom(nameOf, id, kind) {
  const span = document.createElement("span");
  span.append(keyLabel(nameOf, id), ` (${kind})`);
  return span;
}

/**
 * @param {any} change
 * @param {(id: string) => string} nameOf
 */
function changeCard(change, nameOf) {
  const card = document.createElement("article");
  card.className = "change";
  card.setAttribute("aria-label", `Change request ${change.id}`);
  const title = document.createElement("h3");
  // A grant's target is `<key id>/<operation>`: the key is shown by its name, as everywhere else.
  const slash = change.kind === "grant" ? change.target.indexOf("/") : -1;
  if (slash > 0) title.append("grant ", keyLabel(nameOf, change.target.slice(0, slash)), `${change.target.slice(slash)}: ${change.category}`);
  else title.textContent = `${change.kind} ${change.target}: ${change.category}`;
  const facts = document.createElement("p");
  // Estimates are worked out to twelve places (a projected change): rounded for reading here.
  const usd = (/** @type {string | null | undefined} */ amount) => (amount == null ? "–" : dollars(roundedMoney(amount)));
  const impact = change.impact ? ` Projected monthly change: ${usd(change.impact.projectedMonthlyChangeUsd)}.` : "";
  const savings = change.estimatedSavingsUsd == null ? "–" : `${usd(change.estimatedSavingsUsd)} a month`;
  facts.append("Requested by ", byWhom(nameOf, change.requestedBy, change.requestedByKind), `, expires ${when(change.expiresAt)}. Estimated savings: ${savings}. Quality impact: ${change.qualityImpact ?? "–"}. Confidence: ${change.confidence == null ? "–" : percentage(change.confidence)}.${impact}`);
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
  const own = change.requestedBy === session.me;
  if (own) {
    const note = document.createElement("p");
    note.textContent = "You proposed this change: another admin approves it.";
    actions.append(note);
  }
  for (const decision of own ? ["reject"] : ["approve", "reject"]) {
    const button = actionButton(decision === "approve" ? "Approve" : "Reject", change.id, () => decide(change, decision));
    if (decision === "reject") button.className = "danger";
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
  let outcome;
  try {
    await api("POST", `/admin/change-requests/${encodeURIComponent(change.id)}/${decision}`, {});
    outcome = `Change request ${change.id} ${decision === "approve" ? "approved and applied" : "rejected"}.`;
  } catch (err) {
    outcome = failed(`Change request ${change.id} not ${decision === "approve" ? "approved" : "rejected"}`, err);
  }
  await refresh(loadChanges, outcome);
}
