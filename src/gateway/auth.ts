import type { IncomingMessage } from "node:http";
import type { Principal } from "../auth/principal.js";
import { AirlockError } from "../core/errors.js";
import type { ControlPlane } from "../control-plane.js";
import { bearerToken } from "./http.js";
import type { RequestScope } from "./context.js";

export async function requirePrincipal(plane: ControlPlane, req: IncomingMessage, scope: RequestScope): Promise<Principal> {
  const token = bearerToken(req);
  if (!token) throw new AirlockError("unauthorized", "missing API key: send `Authorization: Bearer <key>`");
  const principal = await plane.authenticate(token);
  if (!principal) throw new AirlockError("unauthorized", "invalid API key");
  scope.log.keyId = principal.keyId;
  return principal;
}

export async function requireAdmin(plane: ControlPlane, req: IncomingMessage, scope: RequestScope): Promise<Principal> {
  const principal = await requirePrincipal(plane, req, scope);
  if (principal.kind !== "admin") throw new AirlockError("forbidden", "this endpoint needs an admin key");
  return principal;
}
