import { sql } from "drizzle-orm";
import type { Db } from "../database.js";
import { ledger } from "../schema/index.js";
import { rowsOf } from "./rows.js";

export interface UsageTotals {
  calls: number;
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  cacheWrite1hTokens: number;
  audioInputTokens: number;
  audioOutputTokens: number;
  outputTokens: number;
  /** Seconds of audio (transcription) and characters (speech), which some models bill instead of tokens. */
  audioSeconds: string;
  characters: number;
  reasoningTokens: number;
  /** USD, exact: what the calls cost. */
  cost: string;
}

/** The totals of the calls whose prompts fall between two thresholds. */
export interface PromptGroup {
  /** Every call in the group had a prompt longer than this many tokens; -1 for the group from none. */
  longerThan: number;
  totals: UsageTotals;
}

/**
 * The successful calls of one operation or one model since a moment, their token totals and cost,
 * in one group per span of prompt length that `splitAt` (ascending) marks out: a price with
 * long-context tiers charges a call by its own prompt, so sums across the thresholds cannot be
 * priced. Groups without calls are left out; no split gives at most one group.
 */
export async function usageTotals(db: Db, of: { operation: string } | { model: string }, since: Date, splitAt: readonly number[] = []): Promise<PromptGroup[]> {
  const match = "operation" in of ? sql`${ledger.operation} = ${of.operation}` : sql`${ledger.model} = ${of.model}`;
  // How many thresholds the call's prompt passes: 0 below the first, splitAt.length past the last.
  const passed = sql.join([sql`0`, ...splitAt.map((at) => sql`(input_tokens > ${at})::int`)], sql` + `);
  const result = await db.execute(sql`
    select ${passed} as "group", count(*)::int as calls, coalesce(sum(input_tokens), 0)::bigint as "inputTokens", coalesce(sum(cached_input_tokens), 0)::bigint as "cachedInputTokens",
      coalesce(sum(cache_write_tokens), 0)::bigint as "cacheWriteTokens", coalesce(sum(cache_write_1h_tokens), 0)::bigint as "cacheWrite1hTokens",
      coalesce(sum(audio_input_tokens), 0)::bigint as "audioInputTokens", coalesce(sum(audio_output_tokens), 0)::bigint as "audioOutputTokens",
      coalesce(sum(output_tokens), 0)::bigint as "outputTokens",
      coalesce(sum(reasoning_tokens), 0)::bigint as "reasoningTokens", coalesce(sum(audio_seconds), 0)::text as "audioSeconds",
      coalesce(sum(characters), 0)::bigint as characters, coalesce(sum(cost), 0)::text as cost
    from ${ledger} where ${match} and ${ledger.ts} >= ${since.toISOString()}::timestamptz and ${ledger.outcome} = 'success'
    group by 1 order by 1`);
  return rowsOf<Record<keyof UsageTotals | "group", string | number>>(result).map((row) => {
    const group = Number(row.group);
    return {
      longerThan: group === 0 ? -1 : splitAt[group - 1]!,
      totals: {
        calls: Number(row.calls),
        inputTokens: Number(row.inputTokens),
        cachedInputTokens: Number(row.cachedInputTokens),
        cacheWriteTokens: Number(row.cacheWriteTokens),
        cacheWrite1hTokens: Number(row.cacheWrite1hTokens),
        audioInputTokens: Number(row.audioInputTokens),
        audioOutputTokens: Number(row.audioOutputTokens),
        outputTokens: Number(row.outputTokens),
        reasoningTokens: Number(row.reasoningTokens),
        audioSeconds: String(row.audioSeconds),
        characters: Number(row.characters),
        cost: String(row.cost),
      },
    };
  });
}
