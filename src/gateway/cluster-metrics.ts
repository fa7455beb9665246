import type { Worker } from "node:cluster";
import { AggregatorRegistry, type Registry } from "prom-client";

/**
 * /metrics for `--workers`: the primary asks each serving worker for its metrics and sums them
 * (prom-client's aggregators). prom-client's own `clusterMetrics()` asks every forked worker, and a
 * replacement still starting has no answer to give yet: each scrape then waited out its 5 s and failed
 * until that worker was up. So the primary asks only the workers that listen; one still starting has
 * served nothing and would add nothing to the sums.
 */

const REQUEST = "airlock:worker-metrics-request";
const ANSWER = "airlock:worker-metrics";
const TIMEOUT_MS = 5_000;

type Answer = { type?: string; id?: number; metrics?: object; error?: string };

let nextRequest = 0;

/** In the primary: the metrics of these workers, summed, in Prometheus text format. */
export function sumWorkerMetrics(workers: Worker[], timeoutMs = TIMEOUT_MS): Promise<string> {
  const id = nextRequest++;
  const answers: object[] = [];
  const asked = workers.filter((worker) => worker.isConnected());
  return new Promise<string>((resolve, reject) => {
    let waiting = asked.length;
    const cleanups: Array<() => void> = [];
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const cleanup of cleanups) cleanup();
      if (err) return reject(err);
      AggregatorRegistry.aggregate(answers).metrics().then(resolve, reject);
    };
    const timer = setTimeout(() => finish(new Error(`a gateway worker did not answer with its metrics within ${timeoutMs} ms`)), timeoutMs);
    for (const worker of asked) {
      // Each worker counts once: by its answer, or by its exit (its counters went with it).
      let counted = false;
      const count = (metrics?: object) => {
        if (counted) return;
        counted = true;
        if (metrics) answers.push(metrics);
        if (--waiting === 0) finish();
      };
      const onMessage = (message: Answer) => {
        if (message?.type !== ANSWER || message.id !== id) return;
        if (message.error !== undefined) return finish(new Error(message.error));
        count(message.metrics ?? []);
      };
      const onExit = () => count();
      worker.on("message", onMessage);
      worker.once("exit", onExit);
      cleanups.push(() => {
        worker.off("message", onMessage);
        worker.off("exit", onExit);
      });
      // With a callback, a worker that died since it was counted fails this send instead of raising an
      // 'error' on the worker, which nothing handles and which would end the primary.
      worker.send({ type: REQUEST, id }, (err: Error | null) => {
        if (err) count();
      });
    }
    if (waiting === 0) finish();
  });
}

/** In a worker: answers the primary's requests with this registry's metrics. */
export function answerMetricsRequests(registry: Registry): void {
  process.on("message", (message: Answer) => {
    if (message?.type !== REQUEST) return;
    registry.getMetricsAsJSON().then(
      (metrics) => process.send?.({ type: ANSWER, id: message.id, metrics }),
      (err: unknown) => process.send?.({ type: ANSWER, id: message.id, error: err instanceof Error ? err.message : String(err) }),
    );
  });
}
