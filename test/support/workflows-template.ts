import { writeFile } from "node:fs/promises";
import { silentLogger } from "../../src/core/logger.js";
import { WorkflowEngine } from "../../src/governance/executions/engine.js";
import { startPglite } from "../../src/store/pglite-client.js";

/**
 * Writes the workflow engine's embedded store, its own tables made by one launch of the engine, as an
 * archive to the path given (see global-setup.ts). A process of its own: the engine is a process-wide
 * singleton, and the test runner's process must not hold one.
 */
const archive = process.argv[2];
if (!archive) throw new Error("usage: workflows-template.ts <archive path>");
const workflows = await startPglite({ migrate: false });
try {
  const url = (await workflows.send({ op: "serve" })).url!;
  const engine = await WorkflowEngine.launch({ url, embedded: true, executorId: "template", concurrency: 1, pollIntervalMs: 1_000, logger: silentLogger }, () => {
    throw new Error("the template's engine runs nothing");
  });
  await engine?.shutdown();
  await writeFile(archive, Buffer.from(await (await workflows.send({ op: "dump" })).dump!.arrayBuffer()));
} finally {
  await workflows.close();
}
// The engine may leave a timer behind after its shutdown; the archive is written, nothing else is owed.
process.exit(0);
