import type { AirlockConfigInput } from "./schema.js";

/**
 * What `npm start` serves when there is no config file: the scripted `mock` provider, so that curl and
 * the OpenAI SDK get real answers with no keys and no network. Every surface labels it as the demo.
 */
export const DEMO_CONFIG: AirlockConfigInput = {
  demo: true,
  providers: {
    demo: { type: "mock", latencyMs: 20, chunkDelayMs: 5 },
  },
  models: [
    { id: "demo/airlock-mini", price: { input: "0.15", output: "0.60", cachedInput: "0.075", per: "1M", source: "demo" }, description: "Demo model on the mock provider" },
    { id: "demo/airlock-pro", price: { input: "2.50", output: "10.00", cachedInput: "1.25", per: "1M", source: "demo" }, description: "Demo model on the mock provider" },
    { id: "demo/airlock-embed", kind: "embedding", price: { input: "0.02", per: "1M", source: "demo" }, description: "Demo embedding model" },
  ],
  tiers: { strong: "demo/airlock-pro", mid: "demo/airlock-mini", cheap: "demo/airlock-mini" },
  operations: {
    chat_message: { model: "strong", fallbacks: ["mid"], criticality: "MEDIUM", maxTokens: 1024, description: "Demo: user-facing chat" },
    summarize: { model: "cheap", criticality: "LOW", maxTokens: 512, description: "Demo: background summaries" },
  },
};
