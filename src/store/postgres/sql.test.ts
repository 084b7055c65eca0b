import { describe, expect, it } from 'vitest'
import { storedEvent } from '../../../test/support/events.js'
import { classifyPostgresError } from './classify-error.js'
import { buildSelect, buildWhere, INSERT_UNNEST_SQL, unnestParams } from './sql.js'

describe('buildWhere', () => {
  it('is empty for an empty filter', () => {
    expect(buildWhere({})).toEqual({ text: '', values: [] })
  })

  it('binds every value as a numbered, typed parameter and ANDs the conditions', () => {
    const where = buildWhere(
      { tenant_id: 'acme', actor_id: "o'brien", category: 'critical', from: '2026-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z' },
      { occurred_at: '2026-01-15T00:00:00.000Z', id: '0190a000-0000-7000-8000-000000000000' },
    )
    expect(where.text).toBe(
      'WHERE tenant_id = $1::text AND actor_id = $2::text AND category = $3::text AND occurred_at >= $4::timestamptz' +
        ' AND occurred_at < $5::timestamptz AND (occurred_at, id) < ($6::timestamptz, $7::uuid)',
    )
    expect(where.values).toEqual([
      'acme',
      "o'brien",
      'critical',
      '2026-01-01T00:00:00.000Z',
      '2026-02-01T00:00:00.000Z',
      '2026-01-15T00:00:00.000Z',
      '0190a000-0000-7000-8000-000000000000',
    ])
  })

  it('writes success as a keyword so the partial failures index can match', () => {
    expect(buildWhere({ success: false })).toEqual({ text: 'WHERE NOT success', values: [] })
    expect(buildWhere({ success: true, action: 'login' })).toEqual({ text: 'WHERE action = $1::text AND success', values: ['login'] })
  })

  it('puts LIMIT after the filter parameters, newest first', () => {
    const select = buildSelect({ resource_type: 'doc', resource_id: 'd1' }, undefined, 51)
    expect(select.text).toMatch(/WHERE resource_type = \$1::text AND resource_id = \$2::text ORDER BY occurred_at DESC, id DESC LIMIT \$3$/)
    expect(select.values).toEqual(['doc', 'd1', 51])
    expect(buildSelect({}).text).not.toMatch(/LIMIT/)
  })
})

describe('unnest insert', () => {
  it('passes one array literal per column, metadata as JSON text', () => {
    const events = [storedEvent({ metadata: { list: [1, 2] } }), storedEvent({ ip_address: '::1', targets: [{ id: '1', type: 'doc' }], producer_id: 'p', producer_seq: 7 })]
    const params = unnestParams(events)
    expect(params).toHaveLength(26)
    expect(params[0]).toBe(`{"${events[0]!.id}","${events[1]!.id}"}`)
    expect(params[13]).toBe('{NULL,"::1"}')
    expect(params[18]).toBe('{"{\\"list\\":[1,2]}","{}"}')
    // An absent jsonb field is SQL NULL, not the JSON text "null".
    expect(params[20]).toBe('{NULL,"[{\\"id\\":\\"1\\",\\"type\\":\\"doc\\"}]"}')
    expect(params[23]).toBe('{NULL,7}')
    expect(INSERT_UNNEST_SQL).toContain('$26::jsonb[]')
    expect(INSERT_UNNEST_SQL).toContain('canonical_version')
  })
})

describe('classifyPostgresError', () => {
  const sqlstate = (code: string) => Object.assign(new Error(`sqlstate ${code}`), { code })

  it('retries only the explicit list', () => {
    for (const code of ['08006', '08P01', '53300', '53100', '57P01', '57P03', '57014', '40001', '40P01', '42P01', '42703']) {
      expect(classifyPostgresError(sqlstate(code)), code).toBe('transient')
    }
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE']) {
      expect(classifyPostgresError(Object.assign(new Error(code), { code })), code).toBe('transient')
    }
    expect(classifyPostgresError(new Error('timeout exceeded when trying to connect'))).toBe('transient')
    expect(classifyPostgresError(new Error('Connection terminated unexpectedly'))).toBe('transient')
    expect(
      classifyPostgresError(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })], 'all failed')),
    ).toBe('transient')
  })

  it('calls refused content, and anything unknown, data', () => {
    for (const code of ['22P02', '22001', '22007', '23502', '23514', '54000', 'XX000']) {
      expect(classifyPostgresError(sqlstate(code)), code).toBe('data')
    }
    expect(classifyPostgresError(new RangeError('bad'))).toBe('data')
    expect(classifyPostgresError('a string')).toBe('data')
  })
})
