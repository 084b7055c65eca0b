import type pg from 'pg'
import { AuditqError } from '../../errors.js'
import type { StreamDefinition, StreamRecord, StreamState } from '../../stream/definition.js'
import { confirmedThroughOf } from '../../stream/archive-confirmations.js'
import type { Advance, Lease, StreamStore } from '../../stream/stream-store.js'
import { definitionJson, STREAM_COLUMNS, toStreamRecord, type StreamRow } from '../stream-rows.js'

/** Migration 60: stream definitions, positions and leases. */
export const STREAMS_MIGRATION = [
  `CREATE TABLE audit_streams (
    name              text        PRIMARY KEY,
    owner_tenant      text,
    definition        jsonb       NOT NULL,
    state             text        NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'parked')),
    position          text,
    delivered         bigint      NOT NULL DEFAULT 0,
    delivered_through timestamptz,
    last_error        text,
    failing_since     timestamptz,
    replay_of         text,
    lease_owner       text,
    lease_expires_at  timestamptz,
    lease_generation  bigint      NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now()
  )`,
]

/** Migration 61: per archive stream and tenant, the highest acknowledged seq. */
export const STREAM_TENANT_POSITIONS_MIGRATION = [
  `CREATE TABLE audit_stream_tenant_positions (
    stream    text   NOT NULL,
    tenant_id text   NOT NULL,
    seq       bigint NOT NULL,
    PRIMARY KEY (stream, tenant_id)
  )`,
]

/**
 * Streams in PostgreSQL, on the small pool API keys use: every statement is one short single-row
 * write or a tiny read, and it must never wait behind an ingest batch or an export. Lease expiry is
 * compared with the server's now(), so deliverers on machines with skewed clocks still agree.
 */
export class PostgresStreamStore implements StreamStore {
  constructor(private readonly pool: pg.Pool) {}

  async create(definition: StreamDefinition, extra: { replay_of?: string; position?: string | null; state?: StreamState } = {}): Promise<StreamRecord> {
    try {
      const { rows } = await this.pool.query<StreamRow>(
        `INSERT INTO audit_streams (name, owner_tenant, definition, state, position, replay_of) VALUES ($1, $2, $3::jsonb, $4, $5, $6) RETURNING ${STREAM_COLUMNS}`,
        [definition.name, definition.owner_tenant, definitionJson(definition), extra.state ?? 'active', extra.position ?? null, extra.replay_of ?? null],
      )
      return toStreamRecord(rows[0]!)
    } catch (error) {
      if ((error as { code?: string }).code === '23505') throw new AuditqError('AUDITQ_STREAM_EXISTS', `a stream named "${definition.name}" already exists`)
      throw error
    }
  }

  async get(name: string): Promise<StreamRecord | null> {
    const { rows } = await this.pool.query<StreamRow>(`SELECT ${STREAM_COLUMNS} FROM audit_streams WHERE name = $1`, [name])
    return rows[0] ? toStreamRecord(rows[0]) : null
  }

  async list(): Promise<StreamRecord[]> {
    const { rows } = await this.pool.query<StreamRow>(`SELECT ${STREAM_COLUMNS} FROM audit_streams ORDER BY name`)
    return rows.map(toStreamRecord)
  }

  async delete(name: string): Promise<boolean> {
    const result = await this.pool.query('DELETE FROM audit_streams WHERE name = $1 OR replay_of = $1', [name])
    await this.pool.query('DELETE FROM audit_stream_tenant_positions WHERE stream = $1', [name])
    return (result.rowCount ?? 0) > 0
  }

  async setState(name: string, state: StreamState, error: string | null = null): Promise<boolean> {
    // Resuming clears the failure: the operator has looked at it.
    const result = await this.pool.query(
      `UPDATE audit_streams SET state = $2,
         last_error = CASE WHEN $2 = 'parked' THEN $3 WHEN $2 = 'active' THEN NULL ELSE last_error END,
         failing_since = CASE WHEN $2 = 'active' THEN NULL WHEN $2 = 'parked' THEN coalesce(failing_since, now()) ELSE failing_since END
       WHERE name = $1`,
      [name, state, error],
    )
    return (result.rowCount ?? 0) > 0
  }

  async acquire(name: string, owner: string, ttlMs: number): Promise<Lease | null> {
    const { rows } = await this.pool.query<{ lease_generation: string }>(
      `UPDATE audit_streams SET lease_owner = $2, lease_expires_at = now() + $3 * interval '1 millisecond',
         lease_generation = CASE WHEN lease_owner = $2 AND lease_expires_at > now() THEN lease_generation ELSE lease_generation + 1 END
       WHERE name = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_expires_at <= now())
       RETURNING lease_generation`,
      [name, owner, ttlMs],
    )
    return rows[0] ? { name, owner, generation: Number(rows[0].lease_generation) } : null
  }

  async renew(lease: Lease, ttlMs: number): Promise<boolean> {
    const result = await this.pool.query(
      `UPDATE audit_streams SET lease_expires_at = now() + $4 * interval '1 millisecond'
       WHERE name = $1 AND lease_owner = $2 AND lease_generation = $3 AND lease_expires_at > now()`,
      [lease.name, lease.owner, lease.generation, ttlMs],
    )
    return (result.rowCount ?? 0) > 0
  }

  async release(lease: Lease): Promise<void> {
    await this.pool.query('UPDATE audit_streams SET lease_owner = NULL, lease_expires_at = NULL WHERE name = $1 AND lease_owner = $2 AND lease_generation = $3', [lease.name, lease.owner, lease.generation])
  }

  async advance(lease: Lease, advance: Advance): Promise<boolean> {
    if (advance.tenant_seqs) return this.advanceWithTenants(lease, advance, advance.tenant_seqs)
    const result = await this.pool.query(
      `UPDATE audit_streams SET position = $4, delivered = delivered + $5, delivered_through = coalesce($6::timestamptz, delivered_through),
         last_error = NULL, failing_since = NULL
       WHERE name = $1 AND lease_owner = $2 AND lease_generation = $3`,
      [lease.name, lease.owner, lease.generation, advance.position, advance.delivered, advance.delivered_through],
    )
    return (result.rowCount ?? 0) > 0
  }

  /** The position and the per-tenant seqs in one statement, both fenced by the lease. */
  private async advanceWithTenants(lease: Lease, advance: Advance, seqs: Readonly<Record<string, number>>): Promise<boolean> {
    const { rows } = await this.pool.query<{ moved: boolean }>(
      `WITH moved AS (
         UPDATE audit_streams SET position = $4, delivered = delivered + $5, delivered_through = coalesce($6::timestamptz, delivered_through),
           last_error = NULL, failing_since = NULL
         WHERE name = $1 AND lease_owner = $2 AND lease_generation = $3 RETURNING name),
       seqs AS (
         INSERT INTO audit_stream_tenant_positions AS p (stream, tenant_id, seq)
         SELECT m.name, u.t, u.s FROM moved m CROSS JOIN unnest($7::text[], $8::bigint[]) AS u(t, s)
         ON CONFLICT (stream, tenant_id) DO UPDATE SET seq = greatest(p.seq, excluded.seq))
       SELECT EXISTS (SELECT 1 FROM moved) AS moved`,
      [lease.name, lease.owner, lease.generation, advance.position, advance.delivered, advance.delivered_through, Object.keys(seqs), Object.values(seqs)],
    )
    return rows[0]?.moved === true
  }

  async confirmedThrough(tenantId: string): Promise<number | null> {
    const streams = await this.list()
    const { rows } = await this.pool.query<{ stream: string; seq: string }>('SELECT stream, seq FROM audit_stream_tenant_positions WHERE tenant_id = $1', [tenantId])
    const seqs = new Map(rows.map((row) => [row.stream, Number(row.seq)]))
    return confirmedThroughOf(streams, tenantId, (stream) => seqs.get(stream) ?? 0)
  }

  async recordFailure(lease: Lease, error: string, options: { park: boolean }): Promise<boolean> {
    const result = await this.pool.query(
      `UPDATE audit_streams SET last_error = $4, failing_since = coalesce(failing_since, now()), state = CASE WHEN $5 THEN 'parked' ELSE state END
       WHERE name = $1 AND lease_owner = $2 AND lease_generation = $3`,
      [lease.name, lease.owner, lease.generation, error, options.park],
    )
    return (result.rowCount ?? 0) > 0
  }
}
