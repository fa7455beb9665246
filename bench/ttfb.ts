import { request } from "undici";

/**
 * Time to first byte of a streamed completion, in its own process: from sending the request to the
 * first body byte (the first SSE frame), one request at a time so queueing never hides overhead. A
 * stream counts as an error unless it answered 200 and ended with `data: [DONE]`.
 * Input: a JSON argument {url, headers, body, count}. Output: one JSON line.
 */

interface ProbeInput {
  url: string;
  headers: Record<string, string>;
  body: string;
  count: number;
}

const input = JSON.parse(process.argv[2] ?? "{}") as ProbeInput;
const samples: number[] = [];
let errors = 0;

for (let i = 0; i < input.count; i++) {
  const started = performance.now();
  try {
    const res = await request(input.url, { method: "POST", headers: input.headers, body: input.body });
    let first = 0;
    let text = "";
    for await (const chunk of res.body) {
      if (first === 0 && (chunk as Buffer).length > 0) first = performance.now();
      text += (chunk as Buffer).toString();
    }
    // A stream that answers 200 and then stops, or ends in an error event, is no success: it must end as OpenAI's do.
    if (res.statusCode !== 200 || first === 0 || !text.trimEnd().endsWith("data: [DONE]")) errors++;
    else samples.push(first - started);
  } catch {
    errors++;
  }
}

samples.sort((a, b) => a - b);
const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0;
process.stdout.write(JSON.stringify({ count: input.count, errors, p50: at(0.5), p99: at(0.99) }) + "\n");
