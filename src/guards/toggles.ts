import type { Principal } from "../auth/principal.js";
import { AirlockError } from "../core/errors.js";
import { Reloader } from "../core/reloader.js";
import { newId } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import { DEFAULT_TOGGLES, flipRefusal, toggleOffError, type ControlledBy, type ToggleState } from "../policy/toggles.js";
import type { Db } from "../store/database.js";
import { insertAuditEvent } from "../store/queries/audit.js";
import { readToggles, seedToggles, writeToggle } from "../store/queries/toggles.js";

export interface ToggleChange {
  enabled?: boolean;
  /** Admin keys only, as are the two below. */
  locked?: boolean;
  controlledBy?: ControlledBy;
  notes?: string | null;
}

export interface FeatureTogglesOptions {
  db: Db;
  logger: Logger;
  /** Tells every other instance that a toggle changed; never throws. */
  announce(): Promise<void>;
}

/**
 * Feature toggles as this instance knows them: read from memory on every call, re-read when any
 * instance announces a change. Changes are checked against who asks, and audited either way.
 */
export class FeatureToggles {
  private toggles = new Map<string, ToggleState>();
  private readonly reloader = new Reloader(async () => {
    this.toggles = new Map((await readToggles(this.options.db)).map((row) => [row.name, row]));
  });

  constructor(private readonly options: FeatureTogglesOptions) {}

  async start(): Promise<void> {
    await seedToggles(this.options.db, DEFAULT_TOGGLES);
    await this.reload();
  }

  /** Reads every toggle again; reads never overlap, so an older answer cannot land after a newer one (see Reloader). */
  reload(): Promise<void> {
    return this.reloader.reload();
  }

  list(): ToggleState[] {
    return [...this.toggles.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): ToggleState | undefined {
    return this.toggles.get(name);
  }

  isEnabled(name: string): boolean {
    return this.toggles.get(name)?.enabled === true;
  }

  /** Throws `disabled`, naming the toggle, unless it is on. A toggle that does not exist is off. */
  enforce(name: string): void {
    const off = toggleOffError(name, this.toggles.get(name));
    if (off) throw off;
  }

  /** Changes a toggle for `principal`, or refuses with 403 and an audit row saying who tried. */
  async change(name: string, change: ToggleChange, principal: Principal): Promise<ToggleState> {
    const current = this.toggles.get(name);
    if (!current) throw new AirlockError("not_found", `no feature toggle named "${name}"`);
    const adminOnlyField = (["locked", "controlledBy", "notes"] as const).find((field) => change[field] !== undefined);
    const refusal = flipRefusal(principal.kind, current) ?? (principal.kind !== "admin" && adminOnlyField ? `only an admin key can change a toggle's ${adminOnlyField}` : undefined);
    if (refusal) {
      await insertAuditEvent(this.options.db, {
        id: newId("audit"),
        action: "toggle.change",
        target: name,
        actor: principal.keyId,
        actorKind: principal.kind,
        outcome: "refused",
        details: { requested: change, why: refusal },
      });
      this.options.logger.warn({ toggle: name, by: principal.keyId, kind: principal.kind }, "refused a feature toggle change");
      throw new AirlockError("forbidden", refusal, { details: { toggle: name } });
    }
    return this.write({ ...current, ...change, name }, principal, "toggle.change");
  }

  /** Creates or replaces a toggle (admin keys). */
  async put(toggle: Pick<ToggleState, "name" | "enabled" | "locked" | "controlledBy"> & { notes?: string | null }, principal: Principal): Promise<ToggleState> {
    if (principal.kind !== "admin") throw new AirlockError("forbidden", "only an admin key can create feature toggles");
    return this.write(toggle, principal, this.toggles.has(toggle.name) ? "toggle.change" : "toggle.create");
  }

  private async write(toggle: Pick<ToggleState, "name" | "enabled" | "locked" | "controlledBy"> & { notes?: string | null }, principal: Principal, action: string): Promise<ToggleState> {
    const row = await writeToggle(this.options.db, {
      name: toggle.name,
      enabled: toggle.enabled,
      locked: toggle.locked,
      controlledBy: toggle.controlledBy,
      notes: toggle.notes ?? null,
      actor: principal.keyId,
      actorKind: principal.kind,
      auditId: newId("audit"),
      action,
    });
    this.toggles.set(row.name, row);
    await this.options.announce();
    return row;
  }
}
