/** The feed's store side on PostgreSQL (FeedSource); the SQL and why it is gap-free are in feed-sql.ts. */
import type pg from 'pg'
import type { FeedPosition, FeedRow, FeedSource } from '../../feed/feed-event.js'
import { CommitSignal } from '../commit-signal.js'
import { ALL_FEED_SQL, TENANT_FEED_SQL } from './feed-sql.js'
import { fromRow, type AuditRow } from './sql.js'

type PositionRow = AuditRow & { feed_key: string; position_tenant: string; seq: string; hash: string; present: boolean }

export class PostgresFeed implements FeedSource {
  readonly commits = new CommitSignal()

  constructor(private readonly readPool: pg.Pool) {}

  async read(after: FeedPosition, limit: number): Promise<FeedRow[]> {
    const { rows } =
      after.scope === 'tenant'
        ? await this.readPool.query<PositionRow>({ name: 'auditq_feed_tenant', text: TENANT_FEED_SQL, values: [after.tenant, after.seq, limit] })
        : await this.readPool.query<PositionRow>({ name: 'auditq_feed_all', text: ALL_FEED_SQL, values: [after.key, after.tenant, after.seq, limit] })
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
