import { describe, expect, it } from 'vitest'
import { isAuditqError } from '../errors.js'
import { MAX_CUSTOM_RANGE_DAYS, parseDate, resolvePeriod } from './period.js'

const NOW = new Date('2026-11-23T15:30:00.000Z') // a Monday

describe('report periods (UTC, end exclusive)', () => {
  it('daily is the calendar day, with hourly buckets', () => {
    expect(resolvePeriod({ kind: 'daily', date: '2026-02-28' }, NOW)).toEqual({
      kind: 'daily',
      from: '2026-02-28T00:00:00.000Z',
      to: '2026-03-01T00:00:00.000Z',
      bucket: 'hour',
    })
  })

  it('weekly is the ISO week: Monday to Monday, whichever weekday the date is', () => {
    const week = { kind: 'weekly', from: '2026-11-30T00:00:00.000Z', to: '2026-12-07T00:00:00.000Z', bucket: 'day' }
    for (const date of ['2026-11-30', '2026-12-02', '2026-12-06']) expect(resolvePeriod({ kind: 'weekly', date }, NOW)).toEqual(week)
    // A Sunday belongs to the week that began six days earlier, across a year end too.
    expect(resolvePeriod({ kind: 'weekly', date: '2027-01-03' }, NOW)).toMatchObject({ from: '2026-12-28T00:00:00.000Z', to: '2027-01-04T00:00:00.000Z' })
  })

  it('monthly is the calendar month: 28 to 31 days, December into January', () => {
    expect(resolvePeriod({ kind: 'monthly', date: '2028-02-29' }, NOW)).toMatchObject({ from: '2028-02-01T00:00:00.000Z', to: '2028-03-01T00:00:00.000Z', bucket: 'day' })
    expect(resolvePeriod({ kind: 'monthly', date: '2026-12-31' }, NOW)).toMatchObject({ from: '2026-12-01T00:00:00.000Z', to: '2027-01-01T00:00:00.000Z' })
  })

  it('defaults to the period holding now', () => {
    expect(resolvePeriod({ kind: 'daily' }, NOW)).toMatchObject({ from: '2026-11-23T00:00:00.000Z', to: '2026-11-24T00:00:00.000Z' })
    expect(resolvePeriod({ kind: 'weekly' }, NOW)).toMatchObject({ from: '2026-11-23T00:00:00.000Z' })
    expect(resolvePeriod({ kind: 'monthly' }, NOW)).toMatchObject({ from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' })
  })

  it('custom ranges keep their bounds; hourly up to two days, daily beyond', () => {
    const from = '2026-11-20T06:15:00.000Z'
    expect(resolvePeriod({ kind: 'custom', from, to: '2026-11-22T06:15:00.000Z' }, NOW)).toEqual({ kind: 'custom', from, to: '2026-11-22T06:15:00.000Z', bucket: 'hour' })
    expect(resolvePeriod({ kind: 'custom', from, to: '2026-11-22T06:15:00.001Z' }, NOW).bucket).toBe('day')
  })

  it('refuses an empty, inverted or over-long range, and dates that do not exist', () => {
    const refused = (run: () => unknown) => {
      try {
        run()
      } catch (error) {
        return isAuditqError(error) ? { code: error.code, details: error.details } : error
      }
      return 'accepted'
    }
    const at = '2026-01-01T00:00:00.000Z'
    expect(refused(() => resolvePeriod({ kind: 'custom', from: at, to: at }, NOW))).toMatchObject({ code: 'AUDITQ_BAD_REQUEST', details: [{ field: 'to', rule: 'range' }] })
    const tooLong = new Date(Date.parse(at) + (MAX_CUSTOM_RANGE_DAYS + 1) * 86_400_000).toISOString()
    expect(refused(() => resolvePeriod({ kind: 'custom', from: at, to: tooLong }, NOW))).toMatchObject({ details: [{ field: 'to', rule: 'range' }] })
    for (const date of ['2026-02-29', '2026-13-01', '2026-1-1', '1969-12-31', '9999-12-01', 'today']) {
      expect(parseDate(date), date).toBeUndefined()
      expect(refused(() => resolvePeriod({ kind: 'daily', date }, NOW))).toMatchObject({ details: [{ field: 'date', rule: 'date' }] })
    }
  })
})
