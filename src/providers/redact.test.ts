import { describe, expect, it } from "vitest";
import { credentialsIn, redact } from "./redact.js";

describe("credentialsIn and redact", () => {
  it("finds the keys a client sends, bare and in their Bearer form, and takes them out of text", () => {
    const secrets = credentialsIn({ authorization: "Bearer sk-PROV-123456", "x-goog-api-key": "goog-key-98765", "anthropic-version": "2023-06-01" });
    expect(secrets).toEqual(["Bearer sk-PROV-123456", "sk-PROV-123456", "goog-key-98765"]);
    expect(redact("auth was Bearer sk-PROV-123456, key sk-PROV-123456 and goog-key-98765 (2023-06-01)", secrets)).toBe(
      "auth was [redacted], key [redacted] and [redacted] (2023-06-01)",
    );
  });
});
