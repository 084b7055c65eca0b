/**
 * How many times the deliverers read each stored link row (one per tenant per batch) through the
 * all-tenants feed's index, from PostgreSQL's statistics views: 1.0 means every stretch of the feed
 * was read from the database once for both streams, 2.0 that each stream read it for itself. Unlike
 * the throughput figures, it does not move with the machine's noise.
 */
import pg from 'pg'

/** Backends report their statistics when idle, at most about once a second. */
const STATS_DELAY_MS = 2_000

export async function feedReadsPerLinkRow(databaseUrl: string, schema: string): Promise<number | null> {
  await new Promise((resolve) => setTimeout(resolve, STATS_DELAY_MS))
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const read = await client.query<{ n: string }>(
      "SELECT idx_tup_read AS n FROM pg_stat_user_indexes WHERE schemaname = $1 AND indexrelname = 'audit_chain_links_feed_idx'",
      [schema],
    )
    const stored = await client.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".audit_chain_links`)
    const rows = Number(stored.rows[0]!.n)
    return read.rows[0] && rows > 0 ? Number(read.rows[0].n) / rows : null
  } finally {
    await client.end()
  }
}
