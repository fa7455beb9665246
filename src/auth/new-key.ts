import { z } from "zod";
import { LABEL_MAX_LENGTH, NAME_MAX_LENGTH } from "../config/bounds.js";
import { parseDuration, parseIsoDate } from "../core/duration.js";
import { PRINCIPAL_KINDS } from "./principal.js";

/** A label left empty (or null) is no label: the key then has no user, team or org. */
const label = z
  .string()
  .trim()
  .max(LABEL_MAX_LENGTH)
  .nullish()
  .transform((v) => v || undefined);

/** A new API key as the admin API and the CLI take it: one schema, so both hold a key to the same limits. */
export const newKeySchema = z
  .strictObject({
    name: z.string().trim().min(1, "name is required").max(NAME_MAX_LENGTH),
    kind: z.enum(PRINCIPAL_KINDS).default("user"),
    user: label,
    team: label,
    org: label,
    /** An ISO 8601 date or date-time (Portkey's `expires_at`). */
    expiresAt: z.string().nullish(),
    /** A duration from now, `30d` or `12h` (LiteLLM's `duration`). */
    expiresIn: z.string().nullish(),
    /** The catalog models the key may use (LiteLLM's `models`); left out, null or empty: every model. */
    models: z.array(z.string().trim().min(1).max(NAME_MAX_LENGTH)).max(1000).nullish().transform((v) => (v?.length ? [...new Set(v)] : undefined)),
  })
  .transform(({ expiresAt, expiresIn, ...rest }, ctx) => ({ ...rest, expiresAt: expiryOf(expiresAt, expiresIn, ctx) }));

/** When a new key is to expire: undefined for a key that lasts until it is revoked. */
function expiryOf(at: string | null | undefined, inText: string | null | undefined, ctx: z.RefinementCtx): Date | undefined {
  if (at && inText) {
    ctx.addIssue({ code: "custom", path: ["expiresIn"], message: "give expiresAt or expiresIn, not both" });
    return undefined;
  }
  const now = Date.now();
  if (inText) {
    const ms = parseDuration(inText);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: "custom", path: ["expiresIn"], message: 'must be a duration such as "12h" or "30d"' });
      return undefined;
    }
    return new Date(now + ms);
  }
  if (!at) return undefined;
  const date = parseIsoDate(at.trim());
  if (date === undefined) ctx.addIssue({ code: "custom", path: ["expiresAt"], message: 'must be an ISO 8601 date or date-time, such as "2027-01-31T00:00:00Z"' });
  // A key that is expired when it is made could never be used: surely a mistake in the date.
  else if (date.getTime() <= now) ctx.addIssue({ code: "custom", path: ["expiresAt"], message: "must be in the future" });
  else return date;
  return undefined;
}

/** A new key's request as it is sent, before it is checked. */
export type KeyRequest = z.input<typeof newKeySchema>;
