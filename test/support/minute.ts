/** Rate limits reset on the minute: a test that needs one whole minute waits out the last seconds of the current one. */
export async function awayFromMinuteEnd(marginMs = 8_000): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < marginMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}
