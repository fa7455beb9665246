import { z } from "zod";
import { LABEL_MAX_LENGTH, NAME_MAX_LENGTH } from "../config/bounds.js";
import { PRINCIPAL_KINDS } from "./principal.js";

/** A label left empty (or null) is no label: the key then has no user, team or org. */
const label = z
  .string()
  .trim()
  .max(LABEL_MAX_LENGTH)
  .nullish()
  .transform((v) => v || undefined);

/** A new API key as the admin API and the CLI take it: one schema, so both hold a key to the same limits. */
export const newKeySchema = z.strictObject({
  name: z.string().trim().min(1, "name is required").max(NAME_MAX_LENGTH),
  kind: z.enum(PRINCIPAL_KINDS).default("user"),
  user: label,
  team: label,
  org: label,
});
