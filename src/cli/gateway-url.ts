import { InvalidArgumentError } from "commander";
import { isHttpUrl } from "../core/http-url.js";

/**
 * A gateway address the CLI can ask. Anything else (`localhost:4100`, a typo) would answer nothing,
 * and no answer means "use the store here": the command would then read, or write, a store in the
 * working directory that no gateway serves.
 */
export function gatewayUrl(value: string): string {
  if (!isHttpUrl(value)) throw new InvalidArgumentError("a gateway URL is http:// or https:// followed by a host");
  return value;
}
