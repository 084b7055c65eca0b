import { describe, expect, it } from 'vitest'
import { normalizeLegacyShape } from './normalize.js'
import type { AuditEvent, FieldError, ValidationResult } from './types.js'
import { validateEvent } from './validate.js'

const receivedAt = new Date('2026-11-23T09:00:00.000Z')

function validate(input: unknown): ValidationResult {
  return validateEvent(input, { receivedAt })
}

function accepted(input: unknown): AuditEvent {
  const result = validate(input)
  if (!result.ok) throw new Error(`expected the event to pass, got ${JSON.stringify(result.errors)}`)
  return result.event
}

function errors(input: unknown): FieldError[] {
  const result = validate(input)
  return result.ok ? [] : result.errors
}

// Stand-ins for the variables in the legacy producers' examples (userId, req.ip, …).
const userId = 'user_42'
const violationCount = 3
const req = { ip: '::ffff:203.0.113.7', headers: { 'user-agent': 'Mozilla/5.0 (Macintosh)' } }

describe('the snake_case logger shape (utils/audit-logger.js)', () => {
  it('maps the permanent_ban_applied example', () => {
    const event = accepted({
      user_id: userId,
      resource_type: 'account',
      event_type: 'permanent_ban_applied',
      event_category: 'critical',
      description: `User permanently banned after ${violationCount} violations`,
      metadata: { violation_count: violationCount, ban_level: 'PERMANENT' },
      ip_address: req.ip,
      user_agent: req.headers['user-agent'],
    })
    expect(event).toMatchObject({
      actor_id: 'user_42',
      resource_type: 'account',
      action: 'permanent_ban_applied',
      category: 'critical',
      description: 'User permanently banned after 3 violations',
      metadata: { violation_count: 3, ban_level: 'PERMANENT' },
      ip_address: '203.0.113.7',
      user_agent: 'Mozilla/5.0 (Macintosh)',
      occurred_at: receivedAt.toISOString(),
    })
  })

  it('maps the api_key_created and usage_warning_80_percent examples', () => {
    expect(
      accepted({
        user_id: userId,
        resource_type: 'api_key',
        resource_id: 'key_9',
        event_type: 'api_key_created',
        event_category: 'info',
        description: 'New API key created: ci',
        metadata: { key_name: 'ci', permissions: ['read', 'write'] },
        ip_address: req.ip,
        user_agent: req.headers['user-agent'],
      }),
    ).toMatchObject({ action: 'api_key_created', resource_id: 'key_9', metadata: { permissions: ['read', 'write'] } })
    expect(
      accepted({
        user_id: userId,
        resource_type: 'usage_quota',
        event_type: 'usage_warning_80_percent',
        event_category: 'warning',
        description: 'User reached 80% of monthly quota',
        metadata: { current_usage: 8000, quota_limit: 10000, percentage: 80 },
      }),
    ).toMatchObject({ action: 'usage_warning_80_percent', category: 'warning', ip_address: null })
  })

  it('maps the record the logger queued, created_at becoming occurred_at', () => {
    const queued = JSON.parse(
      JSON.stringify({
        user_id: userId,
        resource_type: 'account',
        resource_id: undefined,
        event_type: 'permanent_ban_applied',
        event_category: 'critical',
        description: 'banned',
        metadata: {},
        ip_address: undefined,
        user_agent: undefined,
        created_at: '2026-11-23T08:59:59.250Z',
      }),
    ) as unknown
    expect(accepted(queued)).toMatchObject({ action: 'permanent_ban_applied', occurred_at: '2026-11-23T08:59:59.250Z', resource_id: null })
  })
})

describe('the camelCase queue-processor shape (Prisma AuditLog)', () => {
  const processorEvent = {
    userId: 'usr_7',
    action: 'config.update',
    resourceType: 'settings',
    resourceId: 'guild_1',
    details: { changed: ['prefix'] },
    ipAddress: '2001:0DB8:0000:0000:0000:0000:0000:0001',
    userAgent: 'admin-ui/2.1',
    sessionId: 'sess_1',
    requestId: 'req_1',
    timestamp: new Date('2026-11-23T08:00:00.000Z'),
    success: false,
    errorMessage: 'permission denied',
  }

  it('maps every field, details becoming metadata and timestamp occurred_at', () => {
    expect(accepted(processorEvent)).toMatchObject({
      actor_id: 'usr_7',
      action: 'config.update',
      resource_type: 'settings',
      resource_id: 'guild_1',
      metadata: { changed: ['prefix'] },
      ip_address: '2001:db8::1',
      user_agent: 'admin-ui/2.1',
      session_id: 'sess_1',
      request_id: 'req_1',
      occurred_at: '2026-11-23T08:00:00.000Z',
      success: false,
      error_message: 'permission denied',
    })
  })

  it('accepts the timestamp as the ISO string Prisma serializes', () => {
    expect(accepted({ ...processorEvent, timestamp: '2026-11-23T08:00:00.000Z' }).occurred_at).toBe('2026-11-23T08:00:00.000Z')
  })

  it.each([
    ['a string', 'free text', { details: 'free text' }],
    ['an array', ['a', 'b'], { details: ['a', 'b'] }],
    ['a number', 7, { details: 7 }],
    ['null', null, {}],
  ])('keeps details that is %s under metadata.details', (_name, details, metadata) => {
    expect(accepted({ action: 'login', details }).metadata).toEqual(metadata)
  })

  it('reports a bad bare details value as `details`, the name the caller sent', () => {
    expect(errors({ action: 'login', details: 'a\u0000b' })).toMatchObject([{ field: 'details', rule: 'no_nul' }])
    expect(errors({ action: 'login', details: { a: { b: Number.NaN } } })).toMatchObject([{ field: 'details.a.b', rule: 'json_value' }])
  })
})

describe('the token-usage shape (openauth token_usage)', () => {
  it('maps the queue test message event', () => {
    const event = accepted(JSON.parse('{"token_id":"test-token","subject":"user:test","event_type":"generated","timestamp":1234567890}'))
    expect(event).toMatchObject({
      resource_type: 'token',
      resource_id: 'test-token',
      actor_id: 'user:test',
      action: 'generated',
      occurred_at: '2009-02-13T23:31:30.000Z',
    })
  })

  it('reads timestamps below 1e11 as seconds and the rest as milliseconds', () => {
    const at = (timestamp: number) => accepted({ event_type: 'used', token_id: 't', timestamp }).occurred_at
    expect(at(1234567890)).toBe('2009-02-13T23:31:30.000Z')
    expect(at(1234567890123)).toBe('2009-02-13T23:31:30.123Z')
    expect(at(1234567890.123)).toBe('2009-02-13T23:31:30.123Z')
    expect(at(100_000_000_000)).toBe('1973-03-03T09:46:40.000Z')
    // The same digits minus one are seconds: the year 5138, which the future rule refuses.
    expect(errors({ event_type: 'used', timestamp: 99_999_999_999 })).toMatchObject([{ field: 'timestamp', rule: 'not_future' }])
  })

  it('keeps an explicit resource_type and client_id', () => {
    const event = accepted({ token_id: 't1', resource_type: 'refresh_token', subject: 's', event_type: 'revoked', client_id: 'web' })
    expect(event).toMatchObject({ resource_type: 'refresh_token', resource_id: 't1', client_id: 'web' })
  })
})

describe('alias conflicts', () => {
  it('reports a canonical field and its alias with different values, on the alias', () => {
    expect(errors({ action: 'a', actor_id: 'u1', user_id: 'u2' })).toMatchObject([
      { field: 'user_id', rule: 'alias_conflict', message: expect.stringContaining('actor_id') },
    ])
  })

  it('reports two aliases of one field with different values, on the later one', () => {
    expect(errors({ action: 'a', userId: 'u1', subject: 'u2' })).toMatchObject([{ field: 'subject', rule: 'alias_conflict' }])
    expect(errors({ event_type: 'a', action: 'b' })).toMatchObject([{ field: 'event_type', rule: 'alias_conflict' }])
  })

  it('accepts equal values under both names', () => {
    expect(accepted({ action: 'a', actor_id: 'u1', user_id: 'u1', userId: 'u1' }).actor_id).toBe('u1')
    expect(accepted({ action: 'a', occurred_at: 1234567890000, timestamp: 1234567890 }).occurred_at).toBe('2009-02-13T23:31:30.000Z')
    expect(accepted({ action: 'a', metadata: { a: [1] }, details: { a: [1] } }).metadata).toEqual({ a: [1] })
  })

  it('lets a present value fill an absent (null or "") one', () => {
    expect(accepted({ action: 'a', actor_id: null, userId: 'u1', user_id: '' }).actor_id).toBe('u1')
  })

  it('treats 0 and -0 as the same value, as JSON does', () => {
    expect(errors({ action: 'a', metadata: { n: 0 }, details: { n: -0 } })).toEqual([])
  })

  it('reports different metadata and details', () => {
    expect(errors({ action: 'a', metadata: { a: 1 }, details: { a: 2 } })).toMatchObject([{ field: 'details', rule: 'alias_conflict' }])
  })
})

describe('errors on aliased fields', () => {
  it('name the field as sent and mention the canonical name', () => {
    expect(errors({ action: 'a', userId: 4.2 })).toEqual([{ field: 'userId', rule: 'type', message: 'must be a string (actor_id)' }])
    expect(errors({ action: 'a', userId: 42 })).toEqual([])
    expect(errors({ event_type: 'bad type' })).toMatchObject([{ field: 'event_type', rule: 'pattern', message: expect.stringContaining('(action)') }])
    expect(errors({ action: 'a', timestamp: 'yesterday' })).toMatchObject([{ field: 'timestamp', rule: 'timestamp' }])
    expect(errors({ action: 'a', ipAddress: 'fe80::1%eth0' })).toMatchObject([{ field: 'ipAddress', rule: 'ip_address' }])
  })

  it('camelCase names that are not legacy aliases stay unknown', () => {
    expect(errors({ action: 'a', actorId: 'u', occurredAt: 1, tenantId: 't' }).map((e) => [e.field, e.rule])).toEqual([
      ['actorId', 'unknown_field'],
      ['occurredAt', 'unknown_field'],
      ['tenantId', 'unknown_field'],
    ])
  })
})

describe('normalizeLegacyShape', () => {
  it('returns canonical fields with the names they were sent as', () => {
    const normalized = normalizeLegacyShape({ userId: 'u', action: 'a', token_id: 't', extra: 1 })
    expect(normalized.fields).toEqual({
      actor_id: { value: 'u', sentAs: 'userId' },
      action: { value: 'a', sentAs: 'action' },
      resource_id: { value: 't', sentAs: 'token_id' },
      resource_type: { value: 'token', sentAs: 'token_id' },
    })
    expect(normalized.unknownFields).toEqual(['extra'])
    expect(normalized.errors).toEqual([])
  })
})
