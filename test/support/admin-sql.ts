import pg from "pg";

/**
 * One connection to the test server's admin database for `work`, closed after it. Light to import: the
 * global setup (which must not load Vitest's test-time API) uses it. A test process keeps its own
 * connection instead (postgres-pool.ts).
 */
export async function withAdminClient<T>(serverUrl: string, work: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}
