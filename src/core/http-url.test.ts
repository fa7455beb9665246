import { describe, expect, it } from "vitest";
import { fetchRefusesPort } from "./http-url.js";

/** How this runtime's own fetch treats a port: refused before connecting, or tried. */
async function refusedByFetch(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) });
    return false;
  } catch (err) {
    return err instanceof Error && err.cause instanceof Error && err.cause.message === "bad port";
  }
}

describe("the ports fetch refuses", () => {
  it("are the ones Node's fetch refuses: each listed port, and none of its neighbours", async () => {
    const listed = [...Array(65_536).keys()].filter(fetchRefusesPort);
    expect(listed.length).toBeGreaterThan(80);
    const neighbours = [...new Set(listed.flatMap((p) => [p - 1, p + 1]))].filter((p) => p > 0 && p < 65_536 && !fetchRefusesPort(p));
    const refused = await Promise.all(listed.map(refusedByFetch));
    expect(listed.filter((_, i) => !refused[i])).toEqual([]);
    const neighboursRefused = await Promise.all(neighbours.map(refusedByFetch));
    expect(neighbours.filter((_, i) => neighboursRefused[i])).toEqual([]);
    // Ports a gateway is commonly given are not among them.
    for (const port of [0, 80, 443, 3000, 4000, 4100, 8080]) expect(fetchRefusesPort(port)).toBe(false);
  });
});
