/**
 * The feed's store side on PostgreSQL (FeedSource); the SQL and why it is gap-free are in feed-sql.ts.
 *
 * Reads go where the store's other single-statement reads go: to a streaming replica while it is
 * close enough behind, to the primary otherwise. Both are gap-free, and so is switching between
 * them: a position is only ever read once every transaction that could land behind it has ended
 * (feed-sql.ts), and a standby's snapshots keep that property because it learns of running
 * transactions from the primary's WAL. A replica further behind than a position already read shows
 * nothing new past it until it has caught up; it never shows something behind it.
 */
import type pg from 'pg'
import type { FeedPosition, FeedRow, FeedSource } from '../../feed/feed-event.js'
import { CommitSignal } from '../commit-signal.js'
import { ALL_FEED_SQL, TENANT_FEED_SQL } from './feed-sql.js'
import { fromRow, type AuditRow } from './sql.js'

type PositionRow = AuditRow & { feed_key: string; position_tenant: string; seq: string; hash: string; present: boolean }

export class PostgresFeed implements FeedSource {
  readonly commits = new CommitSignal()

  /** `read` runs one statement on the pool that should answer it (the replica or the primary). */
  constructor(private readonly readOn: <T>(fn: (pool: pg.Pool) => Promise<T>) => Promise<T>) {}

  async read(after: FeedPosition, limit: number): Promise<FeedRow[]> {
    const { rows } = await this.readOn((pool) =>
      after.scope === 'tenant'
        ? pool.query<PositionRow>({ name: 'auditq_feed_tenant', text: TENANT_FEED_SQL, values: [after.tenant, after.seq, limit] })
        : pool.query<PositionRow>({ name: 'auditq_feed_all', text: ALL_FEED_SQL, values: [after.key, after.tenant, after.seq, limit] }),
    )
    return rows.map((row) => {
      const seq = Number(row.seq)
      const position: FeedPosition =
        after.scope === 'tenant'
          ? { scope: 'tenant', tenant: after.tenant, seq }
          : { scope: 'all', key: row.feed_key, tenant: row.position_tenant, seq }
      return { event: row.present ? fromRow(row) : null, seq, hash: row.hash, position }
    })
  }

  onCommit(listener: () => void): () => void {
    return this.commits.subscribe(listener)
  }
}
