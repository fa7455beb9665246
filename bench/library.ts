import path from "node:path";
import { Bench } from "tinybench";
import { ROOT } from "./support/root.js";

/**
 * The library's own cost per call: `airlock.chat()` in process against the instant mock provider,
 * minus what that provider costs when called directly. The mean is used, not the median: the work the
 * ledger does on the caller's thread (its row, its batch handed to the store) falls between calls, and
 * a median would leave it out. The store writes the batches on a thread of its own, beside the calls,
 * so the time per call leaves that out; the CPU per call measured after it counts every thread.
 */

const { createAirlock } = (await import(path.join(ROOT, "dist/index.js"))) as typeof import("../src/index.js");
const { createProvider } = (await import(path.join(ROOT, "dist/providers/registry.js"))) as typeof import("../src/providers/registry.js");

const smoke = process.argv.includes("--smoke");
const reply = "Orly is closer to the centre than Charles de Gaulle for most morning arrivals.";
const providerConfig = { type: "mock" as const, latencyMs: 0, chunkDelayMs: 0, script: [{ reply }] };
const options: Parameters<typeof createAirlock>[0] = {
  inMemory: true,
  config: {
    providers: { instant: providerConfig },
    models: [{ id: "instant/model", price: { input: "0.15", cachedInput: "0.075", output: "0.60", per: "1M" } }],
    operations: { answer: { model: "instant/model", maxTokens: 256 } },
  },
};
const airlock = await createAirlock(options);
const provider = createProvider("instant", { ...providerConfig, embeddingDimensions: 8 } as Parameters<typeof createProvider>[1]);
const messages = [
  { role: "system" as const, content: "You are a concise assistant for a travel booking product." },
  { role: "user" as const, content: "Which airport in Paris is closer to the city centre for a morning arrival?" },
];
const signal = new AbortController().signal;

const bench = new Bench({ time: smoke ? 300 : 3000, warmupTime: smoke ? 100 : 1000 });
bench.add("provider alone", async () => {
  await provider.chat({ model: "model", messages, max_tokens: 256 }, { signal });
});
bench.add("airlock.chat()", async () => {
  await airlock.chat({ operation: "answer", user: "u1", messages });
});
await bench.run();
await airlock.close();

/**
 * CPU per call on every thread of the process (`process.cpuUsage`), the store's included, over a run
 * of calls and the close that writes the last of their ledger rows, less the provider's own: what an
 * embedding application pays per call, where the overhead above is what its caller waits.
 */
async function cpuPerCall(calls: number): Promise<number> {
  const timed = await createAirlock(options);
  for (let i = 0; i < 500; i++) await timed.chat({ operation: "answer", user: "u1", messages });
  // The warm-up's rows go out with the next flush, a second later, before the count starts.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const before = process.cpuUsage();
  for (let i = 0; i < calls; i++) await timed.chat({ operation: "answer", user: "u1", messages });
  await timed.close();
  const spent = process.cpuUsage(before);
  const providerBefore = process.cpuUsage();
  for (let i = 0; i < calls; i++) await provider.chat({ model: "model", messages, max_tokens: 256 }, { signal });
  const provided = process.cpuUsage(providerBefore);
  const micros = (usage: NodeJS.CpuUsage) => usage.user + usage.system;
  return (micros(spent) - micros(provided)) / calls;
}
const cpuMicros = await cpuPerCall(smoke ? 1000 : 20_000);

const [alone, full] = bench.tasks.map((task) => {
  const result = task.result;
  if (result.state !== "completed") throw new Error(`${task.name}: ${result.state}`);
  return { meanMicros: result.latency.mean * 1000, p50Micros: result.latency.p50 * 1000, samples: result.latency.samplesCount };
});
const overheadMicros = full!.meanMicros - alone!.meanMicros;
process.stdout.write(JSON.stringify({ overheadMicros, cpuMicros, provider: alone, airlock: full }) + "\n");
process.stderr.write(`library: airlock.chat() ${full!.meanMicros.toFixed(1)} µs mean, provider alone ${alone!.meanMicros.toFixed(1)} µs → overhead ${overheadMicros.toFixed(1)} µs per call; ${cpuMicros.toFixed(1)} µs of CPU per call on all threads, the store's included\n`);
