export * from "./api-keys.js";
export * from "./ledger.js";
export * from "./routes.js";
export * from "./prices.js";
export * from "./finance.js";
export * from "./rollup.js";
export * from "./kill-switch.js";
export * from "./audit.js";
