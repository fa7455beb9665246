import { AirlockError } from "../../core/errors.js";
import type { PriceEntry } from "../../store/queries/prices.js";
import type { StoredPrice } from "../../store/schema/prices.js";
import { requireAdmin, requirePrincipal } from "../auth.js";
import { proposeInstead } from "./changes-admin.js";
import type { GatewayContext, Handler } from "../context.js";
import { isObject, readJson, sendJson, textParam } from "../http.js";

/** `GET /admin/prices`: every catalog model and the price in force for it (null: charged the missing price). */
export function listPrices(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    await requireAdmin(gw.plane, req, scope);
    sendJson(res, 200, { data: gw.plane.priceList() });
  };
}

/** `GET /admin/prices/history?model=openai/gpt-4o`: every price the model has had, oldest first. */
export function priceHistory(gw: GatewayContext): Handler {
  return async (req, res, scope, _params, query) => {
    await requireAdmin(gw.plane, req, scope);
    const model = textParam(query, "model");
    if (!model) throw new AirlockError("invalid_request", "model is required", { param: "model" });
    sendJson(res, 200, { model, data: await gw.plane.prices.history(model) });
  };
}

/** `POST /admin/prices` with `{model, price}`: an override, in force from now; past ledger rows keep their cost. */
export function setPrice(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    const principal = await requirePrincipal(gw.plane, req, scope);
    const body = await readJson(req, gw);
    if (!isObject(body) || typeof body.model !== "string") throw new AirlockError("invalid_request", "the body must be {model, price}", { param: "model" });
    if (principal.kind !== "admin") return proposeInstead(gw, res, principal, "price", body.model, body.price);
    const saved = await gw.plane.setPrice(body.model, body.price, principal.keyId);
    await gw.plane.audit.record("price.set", body.model, principal, { price: saved.price });
    gw.logger.info({ requestId: scope.requestId, model: body.model, by: principal.keyId }, "price set");
    sendJson(res, 200, saved);
  };
}

/** `POST /admin/prices/import` with `{origin: "openrouter", prices: [{model, price}]}` (what `airlock models sync` sends). */
export function importPrices(gw: GatewayContext): Handler {
  return async (req, res, scope) => {
    const principal = await requireAdmin(gw.plane, req, scope);
    const body = await readJson(req, gw);
    if (!isObject(body) || body.origin !== "openrouter" || !Array.isArray(body.prices)) {
      throw new AirlockError("invalid_request", 'the body must be {origin: "openrouter", prices: [{model, price}]}');
    }
    const entries = body.prices.map((entry: unknown, i: number): PriceEntry => {
      if (!isObject(entry) || typeof entry.model !== "string" || !isObject(entry.price)) throw new AirlockError("invalid_request", `prices[${i}] must be {model, price}`, { param: `prices[${i}]` });
      return { model: entry.model, price: entry.price as StoredPrice };
    });
    const added = await gw.plane.importPrices(entries, "openrouter");
    if (added > 0) await gw.plane.audit.record("price.import", "openrouter", principal, { received: entries.length, added });
    gw.logger.info({ requestId: scope.requestId, by: principal.keyId, received: entries.length, added }, "prices imported");
    sendJson(res, 200, { received: entries.length, added });
  };
}
