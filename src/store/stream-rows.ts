/**
 * The row shape of `audit_streams` (migration 60) shared by both stores' stream adapters, and its
 * mapping to the stream domain's record. Timestamps arrive as Date (PostgreSQL) or epoch ms (SQLite).
 */
import type { StreamDefinition, StreamRecord, StreamState } from '../stream/definition.js'

export interface StreamRow {
  name: string
  owner_tenant: string | null
  definition: string | Pick<StreamDefinition, 'sink' | 'filter' | 'format' | 'batch_size'>
  state: string
  position: string | null
  delivered: number | string
  delivered_through: Date | number | null
  last_error: string | null
  failing_since: Date | number | null
  replay_of: string | null
  lease_owner: string | null
  lease_expires_at: Date | number | null
  created_at: Date | number
}

export const STREAM_COLUMNS =
  'name, owner_tenant, definition, state, position, delivered, delivered_through, last_error, failing_since, replay_of, lease_owner, lease_expires_at, created_at'

export function definitionJson(definition: StreamDefinition): string {
  const { sink, filter, format, batch_size } = definition
  return JSON.stringify({ sink, filter, format, batch_size })
}

const iso = (value: Date | number | null): string | null => (value === null ? null : new Date(value).toISOString())

export function toStreamRecord(row: StreamRow): StreamRecord {
  const body = typeof row.definition === 'string' ? (JSON.parse(row.definition) as Pick<StreamDefinition, 'sink' | 'filter' | 'format' | 'batch_size'>) : row.definition
  return {
    name: row.name,
    owner_tenant: row.owner_tenant,
    sink: body.sink,
    filter: body.filter,
    format: body.format,
    batch_size: body.batch_size,
    state: row.state as StreamState,
    position: row.position,
    delivered: Number(row.delivered),
    delivered_through: iso(row.delivered_through),
    last_error: row.last_error,
    failing_since: iso(row.failing_since),
    replay_of: row.replay_of,
    lease_owner: row.lease_owner,
    lease_expires_at: iso(row.lease_expires_at),
    created_at: iso(row.created_at)!,
  }
}
