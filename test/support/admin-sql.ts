import pg from "pg";

/**
 * One connection to the database at `url` for `work`, closed after it. Light to import: the global
 * setup (which must not load Vitest's test-time API) uses it too.
 */
export async function withConnection<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
