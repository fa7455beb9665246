import { warmShapes, type LoadShape } from "./cells.js";
import { runLoad, type LoadSpec } from "./loadgen.js";
import { countersBetween, countersByPid } from "./proc.js";

/** One of two targets measured side by side: its process tree, and the load it takes. */
export interface Side {
  pids: () => Promise<number[]>;
  load: Omit<LoadSpec, "seconds">;
}

/** Each side's measures, one value per round, in the order the sides were given. */
export interface Rounds {
  /** CPU µs per call, or per second when idle. */
  cpu: [number[], number[]];
  /** Page faults per call, or per second when idle. */
  faults: [number[], number[]];
  /** Requests each side was sent, answered or not, and how many of them failed. */
  sent: [number, number];
  errors: [number, number];
}

/**
 * Two targets take turns under the same load, `rounds` times, alternating which goes first, so that
 * both see the same machine. On a two-core machine two measurements of one target minutes apart differ
 * by up to 15% (40% between the bench's cells), which hides most differences; measured in turns seconds
 * apart, both sides ride the host's drift together, and the median of the rounds' ratios moves far
 * less than either side. `idle` sends no load: each round measures what each side spends a second
 * while it waits.
 */
export async function alternateRounds(sides: [Side, Side], rounds: number, seconds: number, idle = false): Promise<Rounds> {
  const out: Rounds = { cpu: [[], []], faults: [[], []], sent: [0, 0], errors: [0, 0] };
  await takeTurns(2, rounds, async (index) => {
    const i = index as 0 | 1;
    const pids = await sides[i].pids();
    const before = await countersByPid(pids);
    if (idle) {
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      const spent = countersBetween(before, await countersByPid(pids));
      out.cpu[i].push(spent.cpuMicros / seconds);
      out.faults[i].push(spent.faults / seconds);
      return;
    }
    const result = await runLoad({ ...sides[i].load, seconds });
    const spent = countersBetween(before, await countersByPid(pids));
    out.sent[i] += result.sent;
    out.errors[i] += result.errors;
    const calls = Math.max(1, result.requests);
    out.cpu[i].push(spent.cpuMicros / calls);
    out.faults[i].push(spent.faults / calls);
  });
  return out;
}

/**
 * Gives each of `count` sides a turn in every round, each round starting with the next side (for two,
 * alternating which goes first), so that none always measures right after the same one. Each turn
 * starts after a pause in which the previous one's tail (a ledger batch) settles.
 */
export async function takeTurns(count: number, rounds: number, turn: (side: number, round: number) => Promise<void>): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (let next = 0; next < count; next++) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await turn((round + next) % count, round);
    }
  }
}

/**
 * Warms a side as the bench warms its targets (warmShapes, at 16 connections: the shape at 0 ms
 * upstream first when it waits on its upstream or is paced, then the shape itself), then at the
 * measured load. A few seconds at the measured load alone is about 60 calls at one connection and
 * 50 ms upstream, which leaves most of the path in V8's baseline tier, and the first connection that
 * ends in an error deoptimizes about 90 functions of Node's HTTP and stream code at once, most of
 * which were still unoptimized 16 s later at that rate
 * (docs/performance-findings.md#optimized-code-thrown-away-at-the-first-socket-error). Rounds measured
 * so saw the proxy at 1,400-3,300 µs and 10 page faults per call, twice its cost in the bench's cell or
 * more. Answers what it sent.
 */
export async function warmSide(load: Omit<LoadSpec, "seconds">, shape: LoadShape, firstSeconds: number, measuredSeconds: number): Promise<{ sent: number; errors: number }> {
  const busyShapes = shape.delayMs > 0 || shape.pacedEvents !== undefined ? [{ stream: shape.stream, delayMs: 0 }, shape] : [shape];
  const warm = await warmShapes(load, busyShapes, firstSeconds);
  const measured = await runLoad({ ...load, seconds: measuredSeconds });
  return { sent: warm.sent + measured.sent, errors: warm.errors + measured.errors };
}
