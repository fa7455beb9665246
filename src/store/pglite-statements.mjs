// @ts-check
/**
 * How the store's thread runs the main thread's statements on PGlite. PGlite's query() sends a
 * statement as six wire-protocol messages, each its own trip into the WebAssembly (about 60–90 µs
 * apiece on a two-core host): Parse, Describe to learn the parameters' types, Bind, Describe, Execute
 * and Sync. It asks for the types only to choose how to write each parameter as text. Here a statement
 * whose parameters are text, numbers, booleans or null goes as one message, each parameter written as
 * node-postgres writes it to a PostgreSQL store (a number's digits, `true` or `false`), so a statement
 * reads its parameters alike on both stores. A statement without parameters is parsed and planned once
 * per session, under a name. Any other statement (a Date, an object or a list among its parameters)
 * keeps query(). Plain JavaScript, like the thread (see pglite-thread.mjs).
 */
import { parse } from "@electric-sql/pglite";
import { serialize } from "pg-protocol";

/** @typedef {import("@electric-sql/pglite").PGlite} PGlite */
/** @typedef {import("./database.js").StatementParam} StatementParam */
/** @typedef {Record<number, (value: string, typeId?: number) => unknown>} Parsers */

/**
 * Statements without parameters kept parsed under a name, at most this many: the code's queries are a
 * fixed set, and past the limit a text is parsed afresh each time rather than kept.
 */
const MAX_KEPT = 256;

/** Postgres refuses to run a kept statement whose result columns a schema change altered (SQLSTATE 0A000). */
const PLAN_CHANGED = "0A000";

export class PgliteStatements {
  /** Names of the statements this session has parsed; Postgres keeps their plans until the session ends. */
  #prepared = new Set();
  /** Texts of statements without parameters, and the name each is kept under. */
  #kept = new Map();
  #keptNames = 0;
  /** PGlite's parsers by type, with the thread's own on top, merged once rather than per statement. */
  #parsers;

  /**
   * @param {PGlite} client
   * @param {Parsers} parsers
   */
  constructor(client, parsers) {
    this.client = client;
    this.#parsers = { ...client.parsers, ...parsers };
  }

  /**
   * A statement's rows, as PGlite's query() would answer them.
   * @param {string} sql
   * @param {unknown[]} params
   * @param {"array" | "object"} rowMode
   * @returns {Promise<unknown[]>}
   */
  async query(sql, params, rowMode) {
    if (!params.every(isPlain)) return (await this.client.query(sql, params, { rowMode, parsers: this.#parsers })).rows;
    const texts = params.map((param) => (param === null || param === undefined ? null : String(param)));
    const name = texts.length === 0 ? await this.#keep(sql) : undefined;
    let messages;
    try {
      messages = (await this.client.execProtocol(name ? run(name, texts, true) : Buffer.concat([serialize.parse({ text: sql, types: [] }), run("", texts, true)]))).messages;
    } catch (err) {
      if (!name || /** @type {{ code?: unknown }} */ (err).code !== PLAN_CHANGED) throw err;
      // A migration changed what the kept statement reads: it is parsed again under its name.
      this.#kept.delete(sql);
      this.#prepared.delete(name);
      await this.client.execProtocol(Buffer.concat([serialize.close({ type: "S", name }), serialize.sync()]));
      return this.query(sql, params, rowMode);
    }
    return parse.parseResults(messages, this.#parsers, { rowMode })[0]?.rows ?? [];
  }

  /**
   * Runs a statement kept under its name, parsing it the first time (see Database.runPrepared).
   * @param {string} name
   * @param {string} sql
   * @param {readonly StatementParam[]} params
   */
  async runPrepared(name, sql, params) {
    await this.#prepare(name, sql);
    await this.client.execProtocol(run(name, params, false));
  }

  /**
   * The name a statement without parameters is kept under, parsed on first use; undefined once
   * MAX_KEPT texts are kept.
   * @param {string} sql
   */
  async #keep(sql) {
    let name = this.#kept.get(sql);
    if (name === undefined) {
      if (this.#kept.size >= MAX_KEPT) return undefined;
      name = `airlock_query_${this.#keptNames++}`;
      await this.#prepare(name, sql);
      this.#kept.set(sql, name);
    }
    return name;
  }

  /**
   * @param {string} name
   * @param {string} sql
   */
  async #prepare(name, sql) {
    if (this.#prepared.has(name)) return;
    // Parsed on its own first, so the name is known to exist exactly when Postgres kept it.
    await this.client.execProtocol(Buffer.concat([serialize.parse({ name, text: sql, types: [] }), serialize.sync()]));
    this.#prepared.add(name);
  }
}

/** @param {unknown} param */
function isPlain(param) {
  const type = typeof param;
  return param === null || type === "undefined" || type === "string" || type === "number" || type === "bigint" || type === "boolean";
}

// The message that runs a statement is written into this buffer, kept from run to run. A ledger batch
// makes it a few hundred KB, and fresh memory that large costs a page fault per 4 KB when first
// touched: building it anew each time (pg-protocol's writer grows and copies it, then Buffer.concat
// copies it again) cost more than PGlite reading it. Larger than KEPT_MESSAGE_BYTES (a rare batch,
// say spooled rows coming back), it is built in a buffer of its own.
const KEPT_MESSAGE_BYTES = 1 << 20;
let keptMessage = Buffer.allocUnsafe(64 * 1024);

/**
 * Bind, then Describe when the rows are wanted (their columns' names and types), then Execute and Sync.
 * A parameter given as a list is its items joined by commas (see StatementParam in database.ts).
 * @param {string} name
 * @param {ReadonlyArray<StatementParam | null | undefined>} params
 * @param {boolean} describe
 */
function run(name, params, describe) {
  // Bind: type, length, portal, name, two counts and one per parameter; Describe: 7; Execute: 10; Sync: 5.
  let size = 1 + 4 + 1 + Buffer.byteLength(name) + 1 + 2 + 2 + 4 * params.length + 2 + (describe ? 7 : 0) + 10 + 5;
  for (const param of params) {
    if (typeof param === "string") size += Buffer.byteLength(param);
    else if (param) size += param.reduce((sum, item) => sum + Buffer.byteLength(item) + 1, 0);
  }
  if (size > keptMessage.length) {
    const fresh = Buffer.allocUnsafe(size);
    if (size <= KEPT_MESSAGE_BYTES) keptMessage = fresh;
    return writeRun(fresh, name, params, describe);
  }
  return writeRun(keptMessage, name, params, describe);
}

/**
 * @param {Buffer} out
 * @param {string} name
 * @param {ReadonlyArray<StatementParam | null | undefined>} params
 * @param {boolean} describe
 */
function writeRun(out, name, params, describe) {
  let at = 0;
  out[at++] = 0x42; // B
  at += 4; // the length, written below
  out[at++] = 0; // the unnamed portal
  at += out.write(name, at);
  out[at++] = 0;
  at = out.writeInt16BE(0, at); // no format codes: every parameter is text
  at = out.writeInt16BE(params.length, at);
  for (const param of params) {
    if (param === null || param === undefined) {
      at = out.writeInt32BE(-1, at); // NULL
      continue;
    }
    const lengthAt = at;
    at += 4;
    if (typeof param === "string") at += out.write(param, at);
    else {
      for (let i = 0; i < param.length; i++) {
        if (i > 0) out[at++] = 0x2c; // ,
        at += out.write(/** @type {string} */ (param[i]), at);
      }
    }
    out.writeInt32BE(at - lengthAt - 4, lengthAt);
  }
  at = out.writeInt16BE(0, at); // no result format codes: text
  out.writeInt32BE(at - 1, 1);
  if (describe) {
    out[at++] = 0x44; // D: the unnamed portal's columns
    at = out.writeInt32BE(6, at);
    out[at++] = 0x50; // P
    out[at++] = 0;
  }
  out[at++] = 0x45; // E: the unnamed portal, every row
  at = out.writeInt32BE(9, at);
  out[at++] = 0;
  at = out.writeInt32BE(0, at);
  out[at++] = 0x53; // S
  at = out.writeInt32BE(4, at);
  return out.subarray(0, at);
}
