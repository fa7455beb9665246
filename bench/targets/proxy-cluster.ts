import cluster from "node:cluster";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The floor with several processes: the bare proxy (proxy.ts, unchanged) run as workers under
 * node:cluster, as `airlock start --workers` runs Airlock's. Arguments: the upstream URL, the port (0
 * for any: the workers share the one the first is given), the number of workers, and the proxy's file
 * to run (proxy.ts beside this one when not given; start-proxy.ts gives its plain JavaScript). It prints
 * `{"port": N}` once every worker listens, and stops them all on SIGTERM.
 */

const [upstream = "http://127.0.0.1:1", port = "0", workersText = "2", proxyFile = path.join(path.dirname(fileURLToPath(import.meta.url)), "proxy.ts")] = process.argv.slice(2);
const workers = Number(workersText);
// `silent`: each worker prints its port too; only the primary's line, once all listen, is the answer.
cluster.setupPrimary({ exec: proxyFile, args: [upstream, port], silent: true });

let listening = 0;
for (let i = 0; i < workers; i++) {
  const worker = cluster.fork();
  worker.process.stdout?.resume();
  worker.once("listening", (address) => {
    if (++listening === workers) process.stdout.write(JSON.stringify({ port: address.port }) + "\n");
  });
}

process.on("SIGTERM", () => {
  cluster.on("exit", () => {
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  });
  for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
});
