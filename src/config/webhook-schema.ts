import { z } from "zod";
import { nameSchema } from "./bounds.js";
import { secretRef } from "./providers.js";
import { isHttpUrl } from "../core/http-url.js";

// The `notifications.webhooks` entries; see docs/change-control.md#notifications.

/** One webhook receiver; see docs/change-control.md#notifications. */
export const webhookSchema = z.strictObject({
  name: nameSchema("webhook"),
  /**
   * The receiver; `env:NAME` reads it from the environment (Slack and Discord URLs are secrets, so no
   * message repeats it). A malformed one is refused here rather than failing every delivery.
   */
  url: z
    .string()
    .min(1)
    .refine((url) => url.startsWith("env:") || isHttpUrl(url), { message: "must be an http:// or https:// URL, or env:NAME" }),
  /** `json`: Airlock's envelope `{id, type, ts, data}`; `slack`: `{text}`; `discord`: `{content}`. */
  format: z.enum(["json", "slack", "discord"]).default("json"),
  /** The events it receives; all of them when left out. */
  events: z.array(z.enum(["approval.requested", "change.applied", "budget.warning", "budget.exhausted", "kill_switch.flipped"])).min(1).optional(),
  /** Signs each body: `x-airlock-signature: sha256=<hex HMAC>`. `env:NAME` reads it from the environment. */
  secret: secretRef.optional(),
});
