/**
 * SQL an attacker with database access would run against each chain layout, for the tamper tests:
 * the embedded store keeps seq, prev_hash and hash in the event row ('rows'); PostgreSQL keeps them
 * in per-batch link rows beside the events ('links', chain-links-sql.ts). Each edit does what the
 * layout needs for the same effect (move, remove, forge a chain position); the verdicts may differ
 * only where the layouts hold different information (docs/integrity.md, "What verify reports").
 * Test support: statements are built from trusted test values.
 */
import { v7 as uuidv7 } from 'uuid'
import { EVENT_FIELDS, type AuditEvent } from '../../src/event/types.js'
import type { ChainRow } from '../../src/integrity/types.js'

export type ChainLayout = 'rows' | 'links'

const sqlText = (value: string) => `'${value.replace(/'/g, "''")}'`
const bytes = (hash: string) => `'\\x${hash}'::bytea`

/** The link row holding (tenant, seq), and seq's 1-based position in it. */
const linkRowOf = (tenant: string, seq: number) =>
  `tenant_id = ${sqlText(tenant)} AND start_seq <= ${seq} AND start_seq + cardinality(ids) > ${seq}`
const position = (seq: number) => `(${seq} - start_seq + 1)::int`

export type TextOverrides = Partial<Pick<AuditEvent, 'id' | 'tenant_id' | 'action'>>

export interface ChainTamper {
  layout: ChainLayout
  /** Every table a complete rewrite empties. */
  chainTables: string[]
  /** A predicate on audit_logs selecting the tenant's event at seq. */
  eventAt(tenant: string, seq: number): string
  /** INSERT of a copy of the stored `source` row with a new id and `overrides`, in no chain. */
  copyUnchained(source: ChainRow, overrides?: TextOverrides): string
  /** Delete the event at seq, take its position out of the chain and number the rest one lower. */
  removeAndRenumber(tenant: string, seq: number): string[]
  /**
   * Put a forged copy of `source` (new id, description 'forged') at seq, chained with `hash` from
   * `prevHash`; with `shift`, the positions from seq on move one up first. Returns the statements.
   */
  forgeAt(source: ChainRow, seq: number, chain: { prevHash: string; hash: string; shift: boolean }, overrides?: TextOverrides): string[]
  /** Swap the events (with their hashes) at seq and seq + 1. */
  swap(tenant: string, seq: number): string[]
}

function copyRow(source: ChainRow, overrides: TextOverrides, chainColumns: string): string {
  const values: Partial<Record<string, string>> = { description: sqlText('forged') }
  for (const [field, value] of Object.entries({ id: uuidv7(), ...overrides })) values[field] = sqlText(value)
  const columns = EVENT_FIELDS.map((field) => values[field] ?? field)
  // The copy keeps the source row's canonical version: it is hashed (or left unchained) as that row was.
  return `INSERT INTO audit_logs (${EVENT_FIELDS.join(', ')}, canonical_version, seq, prev_hash, hash)
    SELECT ${columns.join(', ')}, canonical_version, ${chainColumns} FROM audit_logs
    WHERE tenant_id = ${sqlText(source.event.tenant_id)} AND id = ${sqlText(source.event.id)}`
}

export const ROW_LAYOUT: ChainTamper = {
  layout: 'rows',
  chainTables: ['audit_logs', 'audit_chain_heads', 'audit_checkpoints'],
  eventAt: (tenant, seq) => `tenant_id = ${sqlText(tenant)} AND seq = ${seq}`,
  copyUnchained: (source, overrides = {}) => copyRow(source, overrides, 'NULL, NULL, NULL'),
  removeAndRenumber: (tenant, seq) => [
    `DELETE FROM audit_logs WHERE tenant_id = ${sqlText(tenant)} AND seq = ${seq}`,
    `UPDATE audit_logs SET seq = -seq WHERE tenant_id = ${sqlText(tenant)} AND seq > ${seq}`,
    `UPDATE audit_logs SET seq = -seq - 1 WHERE tenant_id = ${sqlText(tenant)} AND seq < 0`,
  ],
  forgeAt: (source, seq, chain, overrides = { id: uuidv7() }) => [
    ...(chain.shift
      ? [
          `UPDATE audit_logs SET seq = -seq WHERE tenant_id = ${sqlText(source.event.tenant_id)} AND seq >= ${seq}`,
          `UPDATE audit_logs SET seq = -seq + 1 WHERE tenant_id = ${sqlText(source.event.tenant_id)} AND seq < 0`,
        ]
      : []),
    copyRow(source, overrides, `${seq}, ${sqlText(chain.prevHash)}, ${sqlText(chain.hash)}`),
  ],
  swap: (tenant, seq) => [
    `UPDATE audit_logs SET seq = -1 WHERE tenant_id = ${sqlText(tenant)} AND seq = ${seq}`,
    `UPDATE audit_logs SET seq = ${seq} WHERE tenant_id = ${sqlText(tenant)} AND seq = ${seq + 1}`,
    `UPDATE audit_logs SET seq = ${seq + 1} WHERE tenant_id = ${sqlText(tenant)} AND seq = -1`,
  ],
}

/**
 * PostgreSQL's layout. The edits stay within one link row (every test chain is one batch), and
 * keep its `occurred` array (each position's event's occurred_at, migration 81) in step with `ids`,
 * as an attacker who wants the edit to go unnoticed would.
 */
export const LINK_LAYOUT: ChainTamper = {
  layout: 'links',
  chainTables: ['audit_logs', 'audit_chain_heads', 'audit_checkpoints', 'audit_chain_links'],
  eventAt: (tenant, seq) =>
    `tenant_id = ${sqlText(tenant)} AND id = (SELECT ids[${position(seq)}] FROM audit_chain_links WHERE ${linkRowOf(tenant, seq)})`,
  copyUnchained: (source, overrides = {}) => copyRow(source, overrides, 'NULL, NULL, NULL'),
  removeAndRenumber: (tenant, seq) => [
    `DELETE FROM audit_logs WHERE ${LINK_LAYOUT.eventAt(tenant, seq)}`,
    `UPDATE audit_chain_links SET ids = ids[:${position(seq)} - 1] || ids[${position(seq)} + 1:],
       occurred = occurred[:${position(seq)} - 1] || occurred[${position(seq)} + 1:],
       links = substring(links FROM 1 FOR ${position(seq)} * 32 - 32) || substring(links FROM ${position(seq)} * 32 + 1)
     WHERE ${linkRowOf(tenant, seq)}`,
  ],
  forgeAt: (source, seq, chain, overrides = {}) => {
    const id = overrides.id ?? uuidv7()
    const tenant = source.event.tenant_id
    const occurred = `${sqlText(source.event.occurred_at)}::timestamptz`
    // The link row's prev_hash is its first event's predecessor; anywhere else the predecessor is
    // the position before, so a made-up `prevHash` cannot be stored, only a hash computed from it.
    const edit = chain.shift
      ? `UPDATE audit_chain_links SET ids = ids[:${position(seq)} - 1] || ${sqlText(id)}::uuid || ids[${position(seq)}:],
           occurred = occurred[:${position(seq)} - 1] || ${occurred} || occurred[${position(seq)}:],
           links = substring(links FROM 1 FOR ${position(seq)} * 32 - 32) || ${bytes(chain.hash)} || substring(links FROM ${position(seq)} * 32 - 31)
         WHERE ${linkRowOf(tenant, seq)}`
      : `UPDATE audit_chain_links SET ids[${position(seq)}] = ${sqlText(id)}::uuid, occurred[${position(seq)}] = ${occurred},
           links = overlay(links PLACING ${bytes(chain.hash)} FROM ${position(seq)} * 32 - 31 FOR 32)
         WHERE ${linkRowOf(tenant, seq)}`
    return [edit, copyRow(source, { ...overrides, id }, 'NULL, NULL, NULL')]
  },
  swap: (tenant, seq) => [
    `UPDATE audit_chain_links SET
       ids = ids[:${position(seq)} - 1] || ids[${position(seq)} + 1] || ids[${position(seq)}] || ids[${position(seq)} + 2:],
       occurred = occurred[:${position(seq)} - 1] || occurred[${position(seq)} + 1] || occurred[${position(seq)}] || occurred[${position(seq)} + 2:],
       links = substring(links FROM 1 FOR ${position(seq)} * 32 - 32) || substring(links FROM ${position(seq)} * 32 + 1 FOR 32)
         || substring(links FROM ${position(seq)} * 32 - 31 FOR 32) || substring(links FROM ${position(seq)} * 32 + 33)
     WHERE ${linkRowOf(tenant, seq)}`,
  ],
}
