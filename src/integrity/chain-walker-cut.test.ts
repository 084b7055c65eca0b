/**
 * The walker's rules below a retention cut, on hand-built chains: which completion event ends the
 * tolerance for rows the cut's rule would delete, and how a range below the cut is anchored.
 */
import { describe, expect, it } from 'vitest'
import type { AuditEvent } from '../event/types.js'
import { storedEvent } from '../../test/support/events.js'
import { chainHash, GENESIS_HASH } from './canonical.js'
import { ChainWalker, cutKeeps, KeptDigest, RETENTION_ACTION } from './chain-walker.js'
import type { ChainBreak, ChainRow, RetentionCut } from './types.js'

const OLD = '2020-01-01T00:00:00.000Z'
const CUTOFF = '2025-01-01T00:00:00.000Z'

/** seq 1..4 old 'doc.view' (the rule deletes them), then the given events. */
function chain(after: Array<Partial<AuditEvent>>): ChainRow[] {
  const rows: ChainRow[] = []
  let prev = GENESIS_HASH
  const events = [...Array.from({ length: 4 }, () => ({ occurred_at: OLD, action: 'doc.view' })), ...after]
  for (const [i, overrides] of events.entries()) {
    const event = storedEvent({ tenant_id: 'acme', ...overrides })
    const hash = chainHash(prev, event)
    rows.push({ seq: i + 1, prev_hash: prev, hash, event })
    prev = hash
  }
  return rows
}

function cutAt(rows: ChainRow[], seq: number): RetentionCut {
  const rule = { cutoff: CUTOFF, keep_actions: [RETENTION_ACTION] }
  const kept = new KeptDigest()
  for (const row of rows) if (row.seq <= seq && cutKeeps(rule, row)) kept.add(row.hash)
  return { tenant_id: 'acme', seq, hash: rows[seq - 1]!.hash, ...rule, kept_count: kept.count, kept_digest: kept.digest() }
}

function walk(rows: ChainRow[], cut: RetentionCut, range: { fromSeq?: number } | null = null): ChainBreak | undefined {
  const walker = new ChainWalker({ tenant_id: 'acme', cut, ...(range ? { partial: true, ...range } : {}) })
  for (const row of rows) if (walker.push(row)) break
  const last = rows.at(-1)!
  return walker.broken ?? walker.finish({ tenant_id: 'acme', seq: last.seq, hash: last.hash }, { checkHead: range === null })
}

const marker = (cut_seq: number, cutoff = CUTOFF): Partial<AuditEvent> => ({ action: RETENTION_ACTION, metadata: { cut_seq, cutoff } })

describe('rows the cut would delete', () => {
  it('are tolerated until the completion event of that very cut is chained', () => {
    const rows = chain([{}, marker(3)])
    const cut = cutAt(rows, 3)
    // Row 2 survived (the run is half done, or someone put it back): no marker yet, so fine.
    const halfDone = [rows[1]!, rows[3]!, rows[4]!]
    expect(walk(halfDone, cut)).toBeUndefined()
    expect(walk([...halfDone, rows[5]!], cut)).toMatchObject({ seq: 2, problem: 'inserted' })
  })

  it('a completion event for another cut, or another cutoff, does not end the tolerance', () => {
    for (const other of [marker(2), marker(3, '2024-01-01T00:00:00.000Z')]) {
      const rows = chain([{}, other])
      expect(walk([rows[1]!, rows[3]!, rows[4]!, rows[5]!], cutAt(rows, 3))).toBeUndefined()
    }
  })
})

describe('a range below the cut', () => {
  it('links its first row after the cut to the cut, and still checks links between present prefix rows', () => {
    const rows = chain([{}, {}])
    const cut = cutAt(rows, 3)
    const thinned = [rows[1]!, rows[3]!, rows[4]!, rows[5]!]
    expect(walk(thinned, cut, { fromSeq: 1 })).toBeUndefined()
    expect(walk([rows[3]!, rows[4]!], cut, { fromSeq: 4 })).toBeUndefined()
    // Seq 4 (after the cut) missing from a range that starts at or below the cut: deleted.
    expect(walk([rows[1]!, rows[4]!, rows[5]!], cut, { fromSeq: 2 })).toMatchObject({ seq: 4, problem: 'deleted' })
    // Seq 2 forged with a made-up predecessor, next to the present seq 1 it should link to.
    const forged = { ...rows[1]!, prev_hash: 'f'.repeat(64) }
    forged.hash = chainHash(forged.prev_hash, forged.event)
    expect(walk([rows[0]!, forged, rows[3]!], cut, { fromSeq: 1 })).toMatchObject({ seq: 2, problem: 'inserted' })
  })
})
