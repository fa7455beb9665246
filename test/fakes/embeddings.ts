/**
 * OpenAI answers one vector per input, numbered from 0. The recorded answer holds two; the fake hands
 * them out in turn, so that an answer always fits the request as the real API's does.
 */
export function embeddingsFor(recorded: string, input: unknown): string {
  const parsed = JSON.parse(recorded) as { data: Array<{ embedding: unknown }> };
  const count = typeof input === "string" || (Array.isArray(input) && input.every((item) => typeof item === "number")) ? 1 : Array.isArray(input) ? input.length : 1;
  parsed.data = Array.from({ length: count }, (_, index) => ({ ...parsed.data[index % parsed.data.length]!, index }));
  return JSON.stringify(parsed);
}
