/**
 * Embedded (SQLite) side of `IntegrityStore` and `RetentionStore`. Verify reads on a read-only connection of its own in
 * one read transaction (WAL: one snapshot, never blocking the writer); retention deletes in short
 * IMMEDIATE transactions that open the append-only guard only for themselves.
 */
import { randomUUID } from 'node:crypto'
import type { ChainHead, ChainRow, Checkpoint, HoldMatch, RetentionCut } from '../../integrity/types.js'
import type { IntegritySnapshot, IntegrityStore } from '../../integrity/integrity-store.js'
import type { RetentionCandidates, RetentionRule, RetentionStore } from '../../retention/retention-store.js'
import { DELETE_CHUNK_SQL, RETENTION_CANDIDATES_SQL, SELECT_CHAIN_ROWS_SQL } from './chain-sql.js'
import type { SqliteDatabase, SqliteDriver } from './sqlite-driver.js'
import { EmbeddedMerkle } from './merkle.js'
import { CHECKPOINT_COLUMNS, toCheckpoint, type CheckpointDbRow } from './checkpoint-rows.js'
import { fromRow, toEpochMs, type AuditRow } from './sql.js'

type ChainDbRow = AuditRow & { seq: number; prev_hash: string; hash: string; canonical_version: number }
interface CutDbRow {
  tenant_id: string
  seq: number
  hash: string
  cutoff: string
  keep_actions: string
  kept_count: number
  kept_digest: string
  holds: string | null
}

const RETENTION_LEASE = 'retention'
/** A crashed runner's lease expires after this; a live one renews it with every chunk. */
const LEASE_MS = 5 * 60_000

const toCut = ({ holds, ...row }: CutDbRow): RetentionCut => ({
  ...row,
  keep_actions: JSON.parse(row.keep_actions) as string[],
  ...(holds === null ? {} : { holds: JSON.parse(holds) as HoldMatch[] }),
})

export class EmbeddedIntegrity implements IntegrityStore, RetentionStore {
  /** Set while this instance runs retention: each run is its own lease holder. */
  private holder: string | undefined
  readonly merkle: EmbeddedMerkle

  constructor(
    private readonly db: SqliteDatabase,
    private readonly settings: { driver: SqliteDriver; file: string; busyTimeoutMs: number; chunkRows: number },
  ) {
    this.merkle = new EmbeddedMerkle(db)
  }

  async snapshot<T>(fn: (snapshot: IntegritySnapshot) => Promise<T>): Promise<T> {
    const reader = this.settings.driver.open(this.settings.file, { readonly: true, timeoutMs: this.settings.busyTimeoutMs })
    try {
      reader.exec('BEGIN')
      // The snapshot starts at the first read, so take it now, before any await.
      reader.prepare('SELECT count(*) FROM audit_chain_heads').get()
      const result = await fn(this.snapshotOn(reader))
      reader.exec('COMMIT')
      return result
    } finally {
      reader.close()
    }
  }

  private snapshotOn(reader: SqliteDatabase): IntegritySnapshot {
    const chunkRows = this.settings.chunkRows
    const byTenant = (tenant?: string) => (tenant === undefined ? ['', []] : [' WHERE tenant_id = ?', [tenant]]) as [string, string[]]
    return {
      async tenants() {
        return reader
          .prepare<[], { tenant_id: string }>('SELECT DISTINCT tenant_id FROM audit_logs WHERE seq IS NOT NULL')
          .all()
          .map((row) => row.tenant_id)
      },
      async unchained(tenant) {
        const [where, values] = tenant === undefined ? ['', []] : [' AND tenant_id = ?', [tenant]]
        return reader
          .prepare<string[], { tenant_id: string; count: number }>(
            `SELECT tenant_id, count(*) AS count FROM audit_logs WHERE seq IS NULL${where} GROUP BY tenant_id ORDER BY tenant_id`,
          )
          .all(...values)
      },
      async heads(tenant) {
        const [where, values] = byTenant(tenant)
        return reader.prepare<string[], ChainHead>(`SELECT tenant_id, seq, hash FROM audit_chain_heads${where} ORDER BY tenant_id`).all(...values)
      },
      async seqOf(tenant, id) {
        const row = reader.prepare<[string, string], { seq: number | null }>('SELECT seq FROM audit_logs WHERE tenant_id = ? AND id = ?').get(tenant, id)
        return row?.seq ?? null
      },
      async formatSwitches(tenant) {
        const [where, values] = byTenant(tenant)
        const rows = reader
          .prepare<string[], { tenant_id: string; v2_from_seq: number }>(`SELECT tenant_id, v2_from_seq FROM audit_chain_formats${where}`)
          .all(...values)
        return new Map(rows.map((row) => [row.tenant_id, row.v2_from_seq]))
      },
      async cuts(tenant) {
        const [where, values] = byTenant(tenant)
        const rows = reader
          .prepare<string[], CutDbRow>(
            `SELECT tenant_id, seq, hash, cutoff, keep_actions, kept_count, kept_digest, holds FROM audit_retention_cuts
             WHERE id IN (SELECT max(id) FROM audit_retention_cuts${where} GROUP BY tenant_id) ORDER BY tenant_id`,
          )
          .all(...values)
        return rows.map(toCut)
      },
      async checkpoints(tenant) {
        const [where, values] = byTenant(tenant)
        const rows = reader
          .prepare<string[], CheckpointDbRow>(
            `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints${where} ORDER BY id`,
          )
          .all(...values)
        return rows.map(toCheckpoint)
      },
      async latestCheckpoints(tenant) {
        const [where, values] = byTenant(tenant)
        const rows = reader
          .prepare<string[], CheckpointDbRow>(
            `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints
             WHERE id IN (SELECT max(id) FROM audit_checkpoints${where} GROUP BY tenant_id) ORDER BY tenant_id`,
          )
          .all(...values)
        return rows.map(toCheckpoint)
      },
      async *rows(tenant, range = {}) {
        const select = reader.prepare<[string, number, string, number, number], ChainDbRow>(SELECT_CHAIN_ROWS_SQL)
        // Keyset on (seq, id) so even duplicate seqs (a tampered table) are all read; the first
        // position sorts after every id of seq fromSeq - 1 (U+10FFFF is the largest UTF-8 text).
        let after: [number, string] = [(range.fromSeq ?? 1) - 1, '\u{10FFFF}']
        const toSeq = range.toSeq ?? Number.MAX_SAFE_INTEGER
        for (;;) {
          const rows = select.all(tenant, after[0], after[1], toSeq, chunkRows)
          for (const row of rows) yield { seq: row.seq, prev_hash: row.prev_hash, hash: row.hash, event: fromRow(row), canonical_version: row.canonical_version } satisfies ChainRow
          const last = rows.at(-1)
          if (!last || rows.length < chunkRows) return
          after = [last.seq, last.id]
          // Reads are synchronous: give the event loop a turn per chunk, so a verify or a
          // retention digest in the service process does not stall ingest for its whole length.
          await new Promise((resolve) => setImmediate(resolve))
        }
      },
    }
  }

  async saveCheckpoints(checkpoints: readonly Checkpoint[]): Promise<void> {
    const insert = this.db.prepare(
      `INSERT INTO audit_checkpoints (${CHECKPOINT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.db.transaction(() => {
      for (const c of checkpoints) {
        insert.run(c.tenant_id, c.seq, c.hash, c.created_at, c.cut ? JSON.stringify(c.cut) : null, c.key_id, c.signature, c.tree?.size ?? null, c.tree?.root ?? null)
      }
    }).immediate()
  }

  async withRetentionLock<T>(fn: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    if (this.holder) return { ran: false }
    const holder = randomUUID()
    if (!this.takeLease(holder)) return { ran: false }
    this.holder = holder
    try {
      return { ran: true, value: await fn() }
    } finally {
      this.holder = undefined
      this.db.prepare('DELETE FROM auditq_leases WHERE name = ? AND holder = ?').run(RETENTION_LEASE, holder)
    }
  }

  /** Takes or renews the lease in one IMMEDIATE transaction; false while another live holder has it. */
  private takeLease(holder: string): boolean {
    return this.db.transaction(() => this.leaseInTransaction(holder)).immediate()
  }

  /** The lease check and renewal, inside the caller's write transaction. */
  private leaseInTransaction(holder: string): boolean {
    const now = Date.now()
    const current = this.db
      .prepare<[string], { holder: string; expires_at: number }>('SELECT holder, expires_at FROM auditq_leases WHERE name = ?')
      .get(RETENTION_LEASE)
    if (current && current.holder !== holder && current.expires_at > now) return false
    this.db
      .prepare(
        `INSERT INTO auditq_leases (name, holder, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at`,
      )
      .run(RETENTION_LEASE, holder, now + LEASE_MS)
    return true
  }

  async retentionCandidates(cutoff: string, keepActions: readonly string[], options: { tenant_id?: string } = {}): Promise<RetentionCandidates[]> {
    const tenant = options.tenant_id ?? null
    return this.db
      .prepare<unknown[], RetentionCandidates>(RETENTION_CANDIDATES_SQL(keepActions.length))
      .all(toEpochMs(cutoff, 'cutoff'), ...keepActions, tenant, tenant)
  }

  async hashAt(tenant: string, seq: number): Promise<string | null> {
    const row = this.db.prepare<[string, number], { hash: string }>('SELECT hash FROM audit_logs WHERE tenant_id = ? AND seq = ?').get(tenant, seq)
    return row?.hash ?? null
  }

  async saveCut(cut: RetentionCut): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO audit_retention_cuts (tenant_id, seq, hash, cutoff, keep_actions, kept_count, kept_digest, created_at, holds)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        cut.tenant_id,
        cut.seq,
        cut.hash,
        cut.cutoff,
        JSON.stringify(cut.keep_actions),
        cut.kept_count,
        cut.kept_digest,
        Date.now(),
        cut.holds ? JSON.stringify(cut.holds) : null,
      )
  }

  async deleteChunk(rule: RetentionRule, afterSeq: number, limit: number): Promise<{ deleted: number; lastSeq: number; done: boolean }> {
    const holder = this.holder
    const remove = this.db.prepare<unknown[], { seq: number }>(DELETE_CHUNK_SQL(rule.keep_actions.length))
    // The lease is renewed in the chunk's own transaction: one commit (and fsync) per chunk, and
    // a chunk is deleted only while this run still holds the lease.
    const rows = this.db.transaction(() => {
      if (holder && !this.leaseInTransaction(holder)) throw new Error('retention lease was taken over by another process')
      this.db.prepare('INSERT INTO auditq_retention_guard (active) VALUES (1)').run()
      const holds = JSON.stringify(rule.holds ?? [])
      const deleted = remove.all(rule.tenant_id, rule.tenant_id, afterSeq, rule.maxSeq, toEpochMs(rule.cutoff, 'cutoff'), ...rule.keep_actions, holds, limit)
      this.db.prepare('DELETE FROM auditq_retention_guard').run()
      return deleted
    }).immediate()
    return { deleted: rows.length, lastSeq: rows.reduce((max, row) => Math.max(max, row.seq), afterSeq), done: rows.length < limit }
  }
}
