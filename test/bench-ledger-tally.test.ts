import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ledgerTally, type AirlockSetup } from "../bench/targets/airlock.js";
import { openDatabase } from "../src/store/database.js";
import { insertLedgerRows } from "../src/store/queries/ledger.js";
import type { NewLedgerRow } from "../src/store/schema/ledger.js";
import { freshStore, STORE_KINDS } from "./support/stores.js";

function row(i: number, overrides: Partial<NewLedgerRow> = {}): NewLedgerRow {
  return { id: `call_${i}`, ts: new Date(), requestId: `req_${i}`, endpoint: "chat", cost: "0.000001", latencyMs: 5, outcome: "success", httpStatus: 200, ...overrides };
}

const ROWS = [
  row(1),
  row(2, { outcome: "error", errorCode: "client_closed", httpStatus: 499 }),
  row(3, { outcome: "error", errorCode: "upstream_error", httpStatus: 502 }),
  row(4, { outcome: "refused", errorCode: "budget_exceeded", httpStatus: 429 }),
  row(5, { priceMissing: true }),
  row(6, { usageEstimated: true }),
  // A stream whose client hung up is billed for what it delivered, its usage estimated: wrk leaves such calls at each run's end.
  row(7, { outcome: "error", errorCode: "client_closed", httpStatus: 499, usageEstimated: true }),
];

describe("the bench's tally of a gateway's ledger", () => {
  it.each(STORE_KINDS)("counts every row, the failed ones but those whose client left, and those not priced from the provider's usage (%s)", async (kind) => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "airlock-tally-test-"));
    const store = kind === "postgres" ? await freshStore("postgres") : undefined;
    try {
      // The bench reads a gateway's store after the gateway stopped: a data directory, or a database.
      const database = store?.database ?? (await openDatabase({ dataDir: path.join(dataDir, "pgdata") }));
      await insertLedgerRows(database, ROWS);
      if (!store) await database.close();
      const setup = { dataDir, databaseUrl: store?.url } as AirlockSetup;
      expect(await ledgerTally(setup)).toEqual({ rows: 7, failed: 2, unpriced: 2 });
    } finally {
      await store?.cleanup();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
