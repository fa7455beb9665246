export const TIERS = ["strong", "mid", "cheap"] as const;
export type Tier = (typeof TIERS)[number];
