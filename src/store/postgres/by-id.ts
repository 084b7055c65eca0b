/**
 * One event by id. On the plain table that is one primary-key probe. On the time-partitioned
 * layout no index spans partitions, so an id alone probes every partition's key (32 for a year of
 * weeks kept over 200 days). Most ids auditq stores are UUIDv7 assigned at intake, whose first 48
 * bits are that moment in milliseconds, and an event's occurred_at is rarely more than a day
 * before its intake (the store's accepted clock skew): so the lookup first reads only the
 * partitions from a day before the id's time onward, newest first, and reads every partition
 * only when that finds nothing (an event logged long after it occurred, or an id the client chose).
 *
 * The answer is the same as reading every partition at once: the first read returns the newest
 * row with that id among those at or after the bound, and any row it did not read lies before the
 * bound, so it would not have been the newest.
 */
import type pg from 'pg'
import { COLUMNS, type AuditRow } from './sql.js'

/**
 * Without a tenant bound (open mode, or an admin key) an id may name one event in each of several
 * tenants: the newest by occurred_at is returned, ties broken by tenant_id, so the answer is
 * deterministic. With a tenant bound the primary key makes it exact on the plain table; on the
 * partitioned layout an id repeated beyond the idempotency window could be stored twice, and the
 * newest is returned too.
 */
export const SELECT_BY_ID_SQL = `SELECT ${COLUMNS} FROM audit_logs WHERE id = $1 ORDER BY occurred_at DESC, tenant_id LIMIT 1`
export const SELECT_BY_ID_AND_TENANT_SQL = `SELECT ${COLUMNS} FROM audit_logs WHERE id = $1 AND tenant_id = $2 ORDER BY occurred_at DESC LIMIT 1`
/** The same, for rows with occurred_at at or after $2 (without a tenant) or $3 (with one). */
export const SELECT_BY_ID_SINCE_SQL = `SELECT ${COLUMNS} FROM audit_logs WHERE id = $1 AND occurred_at >= $2 ORDER BY occurred_at DESC, tenant_id LIMIT 1`
export const SELECT_BY_ID_AND_TENANT_SINCE_SQL = `SELECT ${COLUMNS} FROM audit_logs WHERE id = $1 AND tenant_id = $2 AND occurred_at >= $3 ORDER BY occurred_at DESC LIMIT 1`

const DAY_MS = 86_400_000
/** A day of accepted clock skew plus an hour of margin. */
const BEFORE_INTAKE_MS = DAY_MS + 3_600_000

/** The moment a UUIDv7 was made (its first 48 bits, Unix milliseconds), or null for other versions. */
export function uuidV7Time(id: string): number | null {
  if (id[14] !== '7') return null
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16)
}

export async function selectById(pool: Pick<pg.Pool, 'query'>, id: string, tenant: string | undefined, options: { partitioned: boolean; now?: number }): Promise<AuditRow | undefined> {
  const madeAt = options.partitioned ? uuidV7Time(id) : null
  // An id claiming a time past tomorrow was not made by auditq's clock: no bound to trust.
  if (madeAt !== null && madeAt <= (options.now ?? Date.now()) + DAY_MS) {
    const since = new Date(madeAt - BEFORE_INTAKE_MS).toISOString()
    const { rows } = tenant === undefined
      ? await pool.query<AuditRow>(SELECT_BY_ID_SINCE_SQL, [id, since])
      : await pool.query<AuditRow>(SELECT_BY_ID_AND_TENANT_SINCE_SQL, [id, tenant, since])
    if (rows[0]) return rows[0]
  }
  const { rows } = tenant === undefined
    ? await pool.query<AuditRow>(SELECT_BY_ID_SQL, [id])
    : await pool.query<AuditRow>(SELECT_BY_ID_AND_TENANT_SQL, [id, tenant])
  return rows[0]
}
