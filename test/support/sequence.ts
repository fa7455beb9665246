/**
 * Numbers that look random but repeat run after run (a linear congruential generator), so that a
 * test comparing two implementations over many cases names the same failing case every time.
 * `next(limit)` answers a whole number from 0 to limit − 1.
 */
export function fixedSequence(seed: number): (limit: number) => number {
  let state = seed;
  return (limit) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % limit;
  };
}
