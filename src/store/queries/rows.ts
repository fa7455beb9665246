/** The rows of a raw `db.execute`: node-postgres answers with a result object, the PGlite proxy with the rows themselves. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}
