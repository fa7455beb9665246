import type { Database } from "./database.js";

/** One control plane's place on a store. */
export interface StoreShare {
  /** True while other control planes may use the store too, so it cannot be treated as this one's own. */
  readonly shared: boolean;
  leave(): void;
}

interface Member {
  shared: boolean;
  onShared(): void;
}

const members = new WeakMap<Database, Set<Member>>();

/**
 * Joins a control plane to its store. PostgreSQL is always shared: other instances may open it at any
 * time. The embedded store belongs to one process, and in production to one control plane (the
 * gateway and `createAirlock` each open their own, and `--workers` refuses it). When a second plane in
 * the same process uses it anyway (tests model instances that way), every plane on it counts it as
 * shared from then on, as instances count PostgreSQL: `onShared` tells the planes that were alone.
 */
export function joinStore(database: Database, onShared: () => void): StoreShare {
  let planes = members.get(database);
  if (!planes) members.set(database, (planes = new Set()));
  const member: Member = { shared: database.kind === "postgres" || planes.size > 0, onShared };
  for (const other of planes) {
    if (other.shared) continue;
    other.shared = true;
    other.onShared();
  }
  planes.add(member);
  return {
    get shared() {
      return member.shared;
    },
    leave: () => {
      planes.delete(member);
    },
  };
}
