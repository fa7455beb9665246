import { createHmac, hash, randomBytes } from "node:crypto";
import type { Db } from "../store/database.js";
import { activeKeys, insertKey, insertSignOut, listKeys, liveSignOuts, revokeKey } from "../store/queries/keys.js";
import type { ApiKeyRow } from "../store/schema/api-keys.js";
import { newId } from "../core/ids.js";
import { SerialQueue } from "../core/serial-queue.js";
import { insertAuditEvent } from "../store/queries/audit.js";
import { LIBRARY_KEY_ID, type Principal, type PrincipalKind } from "./principal.js";

const KEY_PREFIX = "sk-al-";

/** A new secret: 32 random bytes, with a recognisable prefix so leaked keys can be found by scanners. */
export function generateKey(): string {
  return KEY_PREFIX + randomBytes(32).toString("base64url");
}

/**
 * SHA-256, not a slow password hash: keys are 256 random bits, so there is nothing to brute-force,
 * and the hot path can afford a hash per request only if it is fast. The one-shot `hash` makes no Hash
 * object: 0.27 against 0.96 µs a key in a loop.
 */
export function hashKey(secret: string): string {
  return hash("sha256", secret, "hex");
}

export const BOOTSTRAP_ADMIN_ID = "key_bootstrap_admin";

/** Who made a change, for the audit log. */
export type Actor = Pick<Principal, "keyId" | "kind">;
const SYSTEM_ACTOR: Actor = { keyId: "system", kind: "admin" };

export interface CreatedKey {
  /** Shown once; never stored. */
  secret: string;
  key: PublicKey;
}

export interface PublicKey {
  id: string;
  name: string;
  kind: PrincipalKind;
  prefix: string;
  userId: string | null;
  teamId: string | null;
  /** What `org` budgets match the key by. */
  orgId: string | null;
  createdAt: string;
  revokedAt: string | null;
  /** When the key stops working by itself, or null: it works until it is revoked. */
  expiresAt: string | null;
  /** The only models the key may use, or null: every model the org allows. */
  models: string[] | null;
}

export interface NewKeyInput {
  name: string;
  kind: PrincipalKind;
  userId?: string | null;
  teamId?: string | null;
  orgId?: string | null;
  expiresAt?: Date | null;
  models?: string[] | null;
}

/**
 * Resolves bearer tokens to principals from memory. The table is loaded at start and after every change
 * made here; an unknown token triggers at most one reload per `missReloadMs`, so a key created by another
 * instance works within that time and a flood of bad keys cannot flood the database.
 */
export class KeyRing {
  private tables = emptyTables();
  /**
   * Dashboard sessions signed out of (`<key id>.<expiry>`). Only ever added to, and pruned once expired,
   * so a reload that read the store before a sign-out here cannot bring that session back.
   */
  private readonly signedOut = new Set<string>();
  private lastReload = 0;
  private reloading: Promise<void> | undefined;
  /**
   * Reloads and this instance's own key changes, one at a time. A reload that read the store before a
   * key was made or revoked here, and swapped its tables in after, would forget the new key (401) or
   * bring the revoked one back.
   */
  private readonly inTurn = new SerialQueue();
  /**
   * What each key's session secret is derived from. Never the store's: whoever can read the store (a
   * reporting role, a backup, the embedded store's files) can read every key's hash, so a secret made
   * from the hash alone let them sign a session of any admin key. The bootstrap admin key is held only
   * in memory and is the same on every instance of one store (docs/configuration.md); without one (the
   * library, the CLI, which sign no sessions), a secret of this process's own.
   */
  private readonly sessionPepper: string;

  constructor(
    private readonly db: Db,
    private readonly bootstrapAdminKey: string | undefined,
    private readonly missReloadMs = 1_000,
  ) {
    this.sessionPepper = bootstrapAdminKey ?? randomBytes(32).toString("base64url");
  }

  load(): Promise<void> {
    return this.inTurn.run(() => this.read());
  }

  private async read(): Promise<void> {
    const [rows, signOuts] = await Promise.all([activeKeys(this.db), liveSignOuts(this.db)]);
    this.forgetExpiredSignOuts(Date.now());
    for (const session of signOuts) this.signedOut.add(session);
    // Built aside and swapped in whole: a lookup during the reload sees the old table or the new one.
    const next = emptyTables();
    for (const row of rows) remember(next, row.keyHash, toPrincipal(row), this.sessionPepper, row.expiresAt);
    if (this.bootstrapAdminKey) {
      remember(next, hashKey(this.bootstrapAdminKey), { keyId: BOOTSTRAP_ADMIN_ID, name: "bootstrap admin", kind: "admin", userId: null, teamId: null, orgId: null }, this.sessionPepper);
    }
    this.tables = next;
    this.lastReload = Date.now();
  }

  /** The principal for a token, or undefined. Only a miss can touch the database, and rarely. */
  async authenticate(token: string): Promise<Principal | undefined> {
    const hash = hashKey(token);
    const found = this.tables.byHash.get(hash);
    // An expired key is known: no reload could bring it back, so it is refused from memory.
    if (found) return live(found, Date.now())?.principal;
    if (Date.now() - this.lastReload < this.missReloadMs) return undefined;
    this.reloading ??= this.load().finally(() => {
      this.reloading = undefined;
    });
    try {
      await this.reloading;
    } catch {
      return undefined; // store down: known keys keep working from memory, unknown ones stay unknown
    }
    const loaded = this.tables.byHash.get(hash);
    return loaded && live(loaded, Date.now())?.principal;
  }

  /** Whether a token is a key that has expired: asked only once it was refused, to tell its caller why. */
  hasExpired(token: string): boolean {
    const found = this.tables.byHash.get(hashKey(token));
    return found !== undefined && live(found, Date.now()) === undefined;
  }

  /** The principal of a live key, by id: for work done later on a key's behalf (a directive's run). */
  principalOf(keyId: string): Principal | undefined {
    return this.liveById(keyId)?.principal;
  }

  private liveById(keyId: string): KeyEntry | undefined {
    const found = this.tables.byId.get(keyId);
    return found && live(found, Date.now());
  }

  /**
   * What signs a dashboard session for a live key: an HMAC of its hash under the bootstrap admin key
   * (see sessionPepper), known only to instances that hold both. A session dies with its key: once the
   * key is revoked, nothing verifies it.
   * Bound, so that it can be handed to the dashboard's session functions as it is.
   */
  readonly sessionSecretOf = (keyId: string): { principal: Principal; secret: string } | undefined => this.liveById(keyId);

  /** Whether a dashboard session was signed out of, on this instance or on one whose change notice reached it. */
  readonly sessionEnded = (session: string): boolean => this.signedOut.has(session);

  /** Ends a dashboard session everywhere: the caller announces it, and other instances reload. */
  async endSession(session: string, expiresAt: number): Promise<void> {
    await insertSignOut(this.db, session, new Date(expiresAt));
    this.forgetExpiredSignOuts(Date.now());
    this.signedOut.add(session);
  }

  private forgetExpiredSignOuts(now: number): void {
    for (const session of this.signedOut) if (Number(session.slice(session.lastIndexOf(".") + 1)) <= now) this.signedOut.delete(session);
  }

  /** Creates a key; `by` (who asked) is written to the audit log. */
  async create(input: NewKeyInput, by: Actor = SYSTEM_ACTOR): Promise<CreatedKey> {
    const secret = generateKey();
    const row = await this.inTurn.run(() => insertKey(this.db, {
      id: newId("key"),
      name: input.name,
      kind: input.kind,
      keyHash: hashKey(secret),
      keyPrefix: secret.slice(0, KEY_PREFIX.length + 6),
      userId: input.userId ?? null,
      teamId: input.teamId ?? null,
      orgId: input.orgId ?? null,
      expiresAt: input.expiresAt ?? null,
      models: input.models?.length ? input.models : null,
    }).then((inserted) => {
      remember(this.tables, inserted.keyHash, toPrincipal(inserted), this.sessionPepper, inserted.expiresAt);
      return inserted;
    }));
    await this.audit("key.create", row, by);
    return { secret, key: toPublic(row) };
  }

  /**
   * Whether a key of this id exists and is not revoked, for what an admin aims at a key (a grant). One
   * made on another instance since the last reload is found by reloading once.
   */
  async isActive(id: string): Promise<boolean> {
    if (id === LIBRARY_KEY_ID || this.liveById(id)) return true;
    await this.load();
    return this.liveById(id) !== undefined;
  }

  async list(): Promise<PublicKey[]> {
    return (await listKeys(this.db)).map(toPublic);
  }

  async revoke(id: string, by: Actor = SYSTEM_ACTOR): Promise<PublicKey | undefined> {
    const row = await this.inTurn.run(async () => {
      const revoked = await revokeKey(this.db, id, new Date());
      // Its dashboard sessions end with it: nothing is left to verify them.
      if (revoked) {
        this.tables.byHash.delete(revoked.keyHash);
        this.tables.byId.delete(revoked.id);
      }
      return revoked;
    });
    if (!row) return undefined;
    await this.audit("key.revoke", row, by);
    return toPublic(row);
  }

  private audit(action: string, row: ApiKeyRow, by: Actor): Promise<unknown> {
    return insertAuditEvent(this.db, {
      id: newId("audit"),
      action,
      target: row.id,
      actor: by.keyId,
      actorKind: by.kind,
      outcome: "applied",
      details: { name: row.name, kind: row.kind, userId: row.userId, teamId: row.teamId, orgId: row.orgId, expiresAt: row.expiresAt?.toISOString() ?? null, models: row.models },
    });
  }
}

/** An unrevoked key: who it is, what signs its dashboard sessions, and when it expires (ms), if it does. */
interface KeyEntry {
  principal: Principal;
  secret: string;
  expiresAt: number | undefined;
}

/**
 * The unrevoked keys by hash (what a bearer token is looked up by) and by id. Expired ones are kept, and
 * refused by `live`: a key's expiry is in memory on every instance, so it ends everywhere at once,
 * with no notice to wait for.
 */
interface KeyTables {
  byHash: Map<string, KeyEntry>;
  byId: Map<string, KeyEntry>;
}

function live(entry: KeyEntry, now: number): KeyEntry | undefined {
  return entry.expiresAt === undefined || now < entry.expiresAt ? entry : undefined;
}

function emptyTables(): KeyTables {
  return { byHash: new Map(), byId: new Map() };
}

function remember(tables: KeyTables, hash: string, principal: Principal, pepper: string, expiresAt: Date | null = null): void {
  // Worked out once a load, not per request.
  const entry = { principal, secret: createHmac("sha256", pepper).update(`airlock-session:${hash}`).digest("base64url"), expiresAt: expiresAt?.getTime() };
  tables.byHash.set(hash, entry);
  tables.byId.set(principal.keyId, entry);
}

function toPrincipal(row: ApiKeyRow): Principal {
  const principal: Principal = { keyId: row.id, name: row.name, kind: row.kind, userId: row.userId, teamId: row.teamId, orgId: row.orgId };
  // A Set, built once a load: every call of the key asks it.
  if (row.models?.length) principal.models = new Set(row.models);
  return principal;
}

function toPublic(row: ApiKeyRow): PublicKey {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    prefix: row.keyPrefix,
    userId: row.userId,
    teamId: row.teamId,
    orgId: row.orgId,
    createdAt: row.createdAt.toISOString(),
    revokedAt: row.revokedAt ? row.revokedAt.toISOString() : null,
    expiresAt: row.expiresAt ? row.expiresAt.toISOString() : null,
    models: row.models?.length ? row.models : null,
  };
}
