import { rawChat, type Instance } from "./routing.js";

/**
 * A "$0.01 call" asks for max_tokens 100 from a model priced at $100 per 1M output tokens (input
 * free), and the upstream answers with exactly 100 completion tokens (finish_reason "length").
 */
export const CENT_MODEL = { id: "p1/m1", price: { input: "0", output: "100", per: "1M" as const } };
/** The upstream's answer to a $0.01 call. */
export const CENT = { fixture: "openai/chat-length" };

export const centCall = (inst: Instance, key = inst.adminKey, extra: Record<string, unknown> = {}) => rawChat(inst, key, extra);

/** Budget timing that a test can wait out: a sync round every 100 ms, leases that live 1 s. */
export const FAST_BUDGETING = { syncIntervalMs: 100, leaseTtlMs: 1_000 };
