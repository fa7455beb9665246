import type { ConformanceHarness, ConformanceScenario } from "../../src/providers/provider.conformance.js";
import type { ProviderV1, Usage, UsageSoFar } from "../../src/providers/spec.js";
import { startFakeUpstream, unreachableUrl, type FakeFlavor, type FakeScenario, type FakeUpstream } from "./upstream.js";

export interface FakeUpstreamHarnessOptions {
  label: string;
  flavor: FakeFlavor;
  /** The recorded fixture every `ok` answer uses (`.json` for chat, `.sse` for streams). */
  fixture: string;
  build(baseUrl: string, overrides: { timeoutMs?: number }): ProviderV1;
  expected: { content: string; usage: Usage; embeddingUsage?: Usage; embeddingUsageReported?: false; usageAtCut?: UsageSoFar };
  embeddings: boolean;
  /** What the adapter does with each OpenAI feature the suite asks about (see ConformanceHarness). */
  features?: NonNullable<ConformanceHarness["capabilities"]>["features"];
}

/**
 * Runs an HTTP adapter through the conformance suite against a fake upstream. Each adapter gets its
 * own fake, so a scenario left unconsumed by one test cannot leak into the next.
 */
export function fakeUpstreamHarness(options: FakeUpstreamHarnessOptions): ConformanceHarness {
  const fakes: FakeUpstream[] = [];
  const toFake = (scenario: ConformanceScenario): FakeScenario => {
    switch (scenario.kind) {
      case "ok":
        return { kind: "ok" }; // the fake's chatFixture; embeddings keep their own fixture
      case "error":
        return scenario.retryAfterSeconds === undefined
          ? { kind: "error", status: scenario.status }
          : { kind: "error", status: scenario.status, headers: { "retry-after": String(scenario.retryAfterSeconds) } };
      case "modelNotFound":
        return { kind: "error", status: 404 };
      default:
        return scenario;
    }
  };
  return {
    label: options.label,
    capabilities: { embeddings: options.embeddings, missingUsage: true, unreachable: true, features: options.features },
    expected: options.expected,
    async teardown() {
      await Promise.all(fakes.splice(0).map((fake) => fake.close()));
    },
    async create(scenarios, overrides = {}) {
      const fake = await startFakeUpstream(options.flavor, { chatFixture: options.fixture });
      fakes.push(fake);
      fake.push(...scenarios.map(toFake));
      return options.build(fake.url, overrides);
    },
    async createUnreachable() {
      return options.build(await unreachableUrl(options.flavor), {});
    },
  };
}
