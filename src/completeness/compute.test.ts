import { describe, expect, it } from 'vitest'
import type { AccountingRecord } from './accounting.js'
import { computeCompleteness, type Island } from './compute.js'

const now = new Date('2026-06-01T12:00:00.000Z')
const ago = (minutes: number) => new Date(now.getTime() - minutes * 60_000).toISOString()
const bound = 15 * 60_000
const island = (first: number, last: number, minutesAgo: number, producer = 'p'): Island => ({ producer_id: producer, first, last, first_received_at: ago(minutesAgo) })
const head = (last_seq: number, minutesAgo: number, extra: Partial<AccountingRecord & { kind: 'head' }> = {}): AccountingRecord => ({
  kind: 'head', recorded_at: ago(minutesAgo), producer_id: 'p', last_seq, issued: last_seq, unsettled: 0, final: false, ...extra,
})

describe('completeness of a producer sequence', () => {
  it('a complete sequence with its final head has no gaps', () => {
    const [p] = computeCompleteness([island(1, 100, 60)], [head(100, 59, { final: true })], { now, inFlightBoundMs: bound })
    expect(p).toMatchObject({ producer_id: 'p', stored: 100, missing: [], in_flight: [], head: { last_seq: 100, final: true } })
  })

  it('names old interior gaps missing and recent ones in flight, by when the next number was issued', () => {
    const [p] = computeCompleteness([island(1, 10, 60), island(14, 20, 30), island(22, 30, 1)], [], { now, inFlightBoundMs: bound })
    expect(p!.missing.map(({ from, to }) => [from, to])).toEqual([[11, 13]])
    expect(p!.in_flight.map(({ from, to }) => [from, to])).toEqual([[21, 21]])
  })

  it('a rejection record accounts for its numbers; a tail gap up to the head is named', () => {
    const records: AccountingRecord[] = [{ kind: 'rejected', recorded_at: ago(50), producer_id: 'p', ranges: [{ from: 11, to: 12, rule: 'max_length' }] }, head(25, 40)]
    const [p] = computeCompleteness([island(1, 10, 60), island(13, 20, 45)], records, { now, inFlightBoundMs: bound })
    expect(p).toMatchObject({ rejected: 2, missing: [{ from: 21, to: 25, state: 'missing', issued_by: ago(40) }], in_flight: [] })
  })

  it('a producer still holding spilled events (fresh head) has nothing missing yet', () => {
    const [p] = computeCompleteness([island(1, 10, 60), island(20, 30, 30)], [head(40, 1, { unsettled: 25 })], { now, inFlightBoundMs: bound })
    expect(p!.missing).toEqual([])
    expect(p!.in_flight.map(({ from, to }) => [from, to])).toEqual([[11, 19], [31, 40]])
  })

  it('without a head record, numbers above the last stored one are unknown, not missing; since skips older gaps', () => {
    const [p] = computeCompleteness([island(1, 5, 120), island(9, 10, 100), island(12, 20, 50)], [], { now, inFlightBoundMs: bound, since: new Date(ago(60)) })
    expect(p!.missing).toEqual([])
    const [all] = computeCompleteness([island(1, 5, 120), island(9, 10, 100), island(12, 20, 50)], [], { now, inFlightBoundMs: bound })
    expect(all!.missing.map(({ from, to }) => [from, to])).toEqual([[6, 8], [11, 11]])
  })

  it('a sequence that starts above 1 reports the numbers below as missing', () => {
    const [p] = computeCompleteness([island(4, 9, 60)], [], { now, inFlightBoundMs: bound })
    expect(p!.missing.map(({ from, to }) => [from, to])).toEqual([[1, 3]])
  })

  it('reports each producer separately, sorted by id', () => {
    const report = computeCompleteness([island(1, 3, 60, 'b'), island(1, 2, 60, 'a'), island(4, 4, 60, 'a')], [], { now, inFlightBoundMs: bound })
    expect(report.map((p) => [p.producer_id, p.missing.length])).toEqual([['a', 1], ['b', 0]])
  })

  it('dead-lettered numbers are named as such at any age, not missing; a replayed and stored one is just stored', () => {
    const dead = (from: number, to: number, minutesAgo: number): AccountingRecord => ({ kind: 'dead_lettered', recorded_at: ago(minutesAgo), producer_id: 'p', ranges: [{ from, to, rule: 'check constraint' }] })
    // 4 and 7-8 dead-lettered over an hour ago, 7 replayed and stored since; 10 recorded twice (a
    // worker killed between its record and the move); 12 above the last stored number.
    const records = [dead(4, 4, 85), dead(7, 8, 75), dead(10, 10, 65), dead(10, 10, 60), dead(12, 12, 55)]
    const [p] = computeCompleteness([island(1, 3, 90), island(5, 7, 80), island(9, 9, 70), island(11, 11, 50)], records, { now, inFlightBoundMs: bound })
    expect(p).toMatchObject({ missing: [], in_flight: [], dead_lettered: 4, rejected: 0 })
    expect(p!.dead_lettered_ranges.map(({ from, to }) => [from, to])).toEqual([[4, 4], [8, 8], [10, 10], [12, 12]])
    // Stored everywhere: nothing dead-lettered is left to report.
    const [done] = computeCompleteness([island(1, 12, 90)], records, { now, inFlightBoundMs: bound })
    expect(done).toMatchObject({ stored: 12, dead_lettered: 0, dead_lettered_ranges: [], missing: [] })
  })

  it('purged numbers (dead-lettered, then deleted by `auditq dlq purge`) are purged, neither dead-lettered nor missing; a stored one is still stored', () => {
    const record = (kind: 'dead_lettered' | 'purged', from: number, to: number, minutesAgo: number): AccountingRecord => ({ kind, recorded_at: ago(minutesAgo), producer_id: 'p', ranges: [{ from, to, rule: 'check constraint' }] })
    // 4-6 dead-lettered; 4-5 purged since (5 had been replayed and stored first); 6 still waits.
    const records = [record('dead_lettered', 4, 6, 80), record('purged', 4, 5, 60)]
    const [p] = computeCompleteness([island(1, 3, 90), island(5, 5, 70), island(7, 8, 50)], records, { now, inFlightBoundMs: bound })
    expect(p).toMatchObject({ missing: [], in_flight: [], dead_lettered: 1, purged: 1 })
    expect(p!.purged_ranges.map(({ from, to }) => [from, to])).toEqual([[4, 4]])
    expect(p!.dead_lettered_ranges.map(({ from, to }) => [from, to])).toEqual([[6, 6]])
  })
})
