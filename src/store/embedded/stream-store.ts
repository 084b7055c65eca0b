import { AuditqError } from '../../errors.js'
import type { StreamDefinition, StreamRecord, StreamState } from '../../stream/definition.js'
import { confirmedThroughOf } from '../../stream/archive-confirmations.js'
import type { Advance, Lease, StreamStore } from '../../stream/stream-store.js'
import { definitionJson, STREAM_COLUMNS, toStreamRecord, type StreamRow } from '../stream-rows.js'
import type { SqliteDatabase } from './sqlite-driver.js'

/** Migration 60: stream definitions, positions and leases (times as epoch ms). */
export const STREAMS_MIGRATION = [
  `CREATE TABLE audit_streams (
    name              TEXT    NOT NULL PRIMARY KEY,
    owner_tenant      TEXT,
    definition        TEXT    NOT NULL,
    state             TEXT    NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'parked')),
    position          TEXT,
    delivered         INTEGER NOT NULL DEFAULT 0,
    delivered_through INTEGER,
    last_error        TEXT,
    failing_since     INTEGER,
    replay_of         TEXT,
    lease_owner       TEXT,
    lease_expires_at  INTEGER,
    lease_generation  INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL
  ) STRICT`,
]

/** Migration 61: per archive stream and tenant, the highest acknowledged seq. */
export const STREAM_TENANT_POSITIONS_MIGRATION = [
  `CREATE TABLE audit_stream_tenant_positions (
    stream    TEXT    NOT NULL,
    tenant_id TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (stream, tenant_id)
  ) STRICT`,
]

/**
 * Streams in the embedded store's SQLite file, on its own connection. Every statement is one
 * single-row write, atomic on its own; processes sharing the file all read one machine's clock,
 * so lease expiry in epoch ms from Date.now() is consistent between them.
 */
export class EmbeddedStreamStore implements StreamStore {
  constructor(
    private readonly db: SqliteDatabase,
    private readonly now: () => number = Date.now,
  ) {}

  async create(definition: StreamDefinition, extra: { replay_of?: string; position?: string | null; state?: StreamState } = {}): Promise<StreamRecord> {
    try {
      this.db
        .prepare('INSERT INTO audit_streams (name, owner_tenant, definition, state, position, replay_of, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(definition.name, definition.owner_tenant, definitionJson(definition), extra.state ?? 'active', extra.position ?? null, extra.replay_of ?? null, this.now())
    } catch (error) {
      if (/UNIQUE|PRIMARY KEY/i.test((error as Error).message)) throw new AuditqError('AUDITQ_STREAM_EXISTS', `a stream named "${definition.name}" already exists`)
      throw error
    }
    return (await this.get(definition.name))!
  }

  async get(name: string): Promise<StreamRecord | null> {
    const row = this.db.prepare<[string], StreamRow>(`SELECT ${STREAM_COLUMNS} FROM audit_streams WHERE name = ?`).get(name)
    return row ? toStreamRecord(row) : null
  }

  async list(): Promise<StreamRecord[]> {
    return this.db.prepare<[], StreamRow>(`SELECT ${STREAM_COLUMNS} FROM audit_streams ORDER BY name`).all().map(toStreamRecord)
  }

  async delete(name: string): Promise<boolean> {
    this.db.prepare('DELETE FROM audit_stream_tenant_positions WHERE stream = ?').run(name)
    return this.db.prepare('DELETE FROM audit_streams WHERE name = ? OR replay_of = ?').run(name, name).changes > 0
  }

  async setState(name: string, state: StreamState, error: string | null = null): Promise<boolean> {
    // Resuming clears the failure: the operator has looked at it.
    const now = this.now()
    return (
      this.db
        .prepare(
          `UPDATE audit_streams SET state = ?,
             last_error = CASE WHEN ? = 'parked' THEN ? WHEN ? = 'active' THEN NULL ELSE last_error END,
             failing_since = CASE WHEN ? = 'active' THEN NULL WHEN ? = 'parked' THEN coalesce(failing_since, ?) ELSE failing_since END
           WHERE name = ?`,
        )
        .run(state, state, error, state, state, state, now, name).changes > 0
    )
  }

  async acquire(name: string, owner: string, ttlMs: number): Promise<Lease | null> {
    const now = this.now()
    const row = this.db
      .prepare<[string, number, string, number, string, string, number], { lease_generation: number }>(
        `UPDATE audit_streams SET lease_owner = ?, lease_expires_at = ?,
           lease_generation = CASE WHEN lease_owner = ? AND lease_expires_at > ? THEN lease_generation ELSE lease_generation + 1 END
         WHERE name = ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_expires_at <= ?)
         RETURNING lease_generation`,
      )
      .get(owner, now + ttlMs, owner, now, name, owner, now)
    return row ? { name, owner, generation: Number(row.lease_generation) } : null
  }

  async renew(lease: Lease, ttlMs: number): Promise<boolean> {
    const now = this.now()
    return (
      this.db
        .prepare('UPDATE audit_streams SET lease_expires_at = ? WHERE name = ? AND lease_owner = ? AND lease_generation = ? AND lease_expires_at > ?')
        .run(now + ttlMs, lease.name, lease.owner, lease.generation, now).changes > 0
    )
  }

  async release(lease: Lease): Promise<void> {
    this.db.prepare('UPDATE audit_streams SET lease_owner = NULL, lease_expires_at = NULL WHERE name = ? AND lease_owner = ? AND lease_generation = ?').run(lease.name, lease.owner, lease.generation)
  }

  async advance(lease: Lease, advance: Advance): Promise<boolean> {
    const through = advance.delivered_through === null ? null : Date.parse(advance.delivered_through)
    // One transaction: the per-tenant seqs are written only if the fenced position moved.
    return this.db.transaction(() => {
      const moved =
        this.db
          .prepare(
            `UPDATE audit_streams SET position = ?, delivered = delivered + ?, delivered_through = coalesce(?, delivered_through), last_error = NULL, failing_since = NULL
             WHERE name = ? AND lease_owner = ? AND lease_generation = ?`,
          )
          .run(advance.position, advance.delivered, through, lease.name, lease.owner, lease.generation).changes > 0
      if (moved && advance.tenant_seqs) {
        const upsert = this.db.prepare('INSERT INTO audit_stream_tenant_positions (stream, tenant_id, seq) VALUES (?, ?, ?) ON CONFLICT (stream, tenant_id) DO UPDATE SET seq = max(seq, excluded.seq)')
        for (const [tenant, seq] of Object.entries(advance.tenant_seqs)) upsert.run(lease.name, tenant, seq)
      }
      return moved
    })()
  }

  async confirmedThrough(tenantId: string): Promise<number | null> {
    const streams = await this.list()
    const rows = this.db.prepare<[string], { stream: string; seq: number }>('SELECT stream, seq FROM audit_stream_tenant_positions WHERE tenant_id = ?').all(tenantId)
    const seqs = new Map(rows.map((row) => [row.stream, Number(row.seq)]))
    return confirmedThroughOf(streams, tenantId, (stream) => seqs.get(stream) ?? 0)
  }

  async recordFailure(lease: Lease, error: string, options: { park: boolean }): Promise<boolean> {
    return (
      this.db
        .prepare(
          `UPDATE audit_streams SET last_error = ?, failing_since = coalesce(failing_since, ?), state = CASE WHEN ? THEN 'parked' ELSE state END
           WHERE name = ? AND lease_owner = ? AND lease_generation = ?`,
        )
        .run(error, this.now(), options.park ? 1 : 0, lease.name, lease.owner, lease.generation).changes > 0
    )
  }
}
