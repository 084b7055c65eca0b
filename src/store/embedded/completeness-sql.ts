/**
 * The completeness check's SQL in SQLite's dialect, shared by the embedded store and D1 (the
 * Workers edition): the filter's conditions and the accounting records' read. Pure text; the
 * parameters are pushed onto `params` in placeholder order.
 */
import { ACCOUNTING_ACTIONS } from '../../completeness/accounting.js'
import type { CompletenessFilter } from '../../completeness/source.js'

/** ` AND …` conditions for the filter (empty for none); `producerColumn` is where the producer id is read. */
export function completenessWhere(filter: CompletenessFilter, params: unknown[], producerColumn: string): string {
  let sql = ''
  if (filter.tenant_id !== undefined) {
    sql += ' AND tenant_id = ?'
    params.push(filter.tenant_id)
  }
  if (filter.producer_id !== undefined) {
    sql += ` AND ${producerColumn} = ?`
    params.push(filter.producer_id)
  }
  return sql
}

/** The producers' accounting records (action, received_at in epoch ms, metadata as JSON text). */
export function accountingSql(filter: CompletenessFilter, params: unknown[]): string {
  params.push(...ACCOUNTING_ACTIONS)
  return `SELECT action, received_at, metadata FROM audit_logs WHERE action IN (${ACCOUNTING_ACTIONS.map(() => '?').join(', ')})${completenessWhere(filter, params, "json_extract(metadata, '$.producer_id')")}`
}
