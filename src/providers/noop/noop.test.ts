import { describe, expect, it } from "vitest";
import { noopConfig } from "../../config/providers.js";
import { CONFORMANCE_REQUEST, describeProviderConformance } from "../provider.conformance.js";
import { NoopProvider } from "./provider.js";

describeProviderConformance({
  label: "noop",
  refusesEverything: true,
  create: () => new NoopProvider("legacy-azure", noopConfig.parse({ type: "noop", reason: "retired after the migration" })),
});

describe("noop provider", () => {
  it("says which provider is off and why", async () => {
    const p = new NoopProvider("legacy-azure", noopConfig.parse({ type: "noop", reason: "retired after the migration" }));
    await expect(p.chat(CONFORMANCE_REQUEST, { signal: new AbortController().signal })).rejects.toMatchObject({
      code: "disabled",
      message: 'provider "legacy-azure" is disabled: retired after the migration',
    });
  });
});
