import { describe, expect, it } from 'vitest'
import { EVENT_FIELDS, type AuditEvent, type FieldError, type ValidationResult } from './types.js'
import { TEXT_LIMITS, validateEvent } from './validate.js'

const receivedAt = new Date('2026-11-23T09:00:00.123Z')
const HOUR = 3_600_000

function validate(input: unknown, options: { defaultTenant?: string } = {}): ValidationResult {
  return validateEvent(input, { receivedAt, ...options })
}

function accepted(input: unknown): AuditEvent {
  const result = validate(input)
  if (!result.ok) throw new Error(`expected the event to pass, got ${JSON.stringify(result.errors)}`)
  return result.event
}

function rules(input: unknown): Array<Pick<FieldError, 'field' | 'rule'>> {
  const result = validate(input)
  return result.ok ? [] : result.errors.map(({ field, rule }) => ({ field, rule }))
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('a minimal valid event', () => {
  it('comes back complete: every stored key present, absent ones null, defaults applied', () => {
    const event = accepted({ action: 'api_key.created' })
    expect(Object.keys(event)).toEqual([...EVENT_FIELDS])
    expect(event).toEqual({
      id: expect.stringMatching(UUID_V7),
      tenant_id: 'default',
      occurred_at: '2026-11-23T09:00:00.123Z',
      received_at: '2026-11-23T09:00:00.123Z',
      action: 'api_key.created',
      category: 'info',
      actor_id: null,
      actor_type: null,
      resource_type: null,
      resource_id: null,
      success: true,
      error_message: null,
      description: null,
      ip_address: null,
      user_agent: null,
      session_id: null,
      request_id: null,
      client_id: null,
      metadata: {},
      actor_name: null,
      targets: null,
      changes: null,
      producer_id: null,
      producer_seq: null,
      subject_index: null,
      sealed: null,
    })
  })

  it('gets a fresh UUIDv7 id per event', () => {
    expect(accepted({ action: 'a' }).id).not.toBe(accepted({ action: 'a' }).id)
  })

  it('takes the tenant from options.defaultTenant when the event names none', () => {
    const result = validate({ action: 'a' }, { defaultTenant: 'acme' })
    expect(result.ok && result.event.tenant_id).toBe('acme')
  })

  it('reports a defaultTenant that breaks the tenant rules as an option error', () => {
    expect(validate({ action: 'a' }, { defaultTenant: 'a b' })).toMatchObject({
      ok: false,
      errors: [{ field: '(options).defaultTenant', rule: 'invalid_option' }],
    })
  })

  it('refuses an invalid receivedAt option without throwing', () => {
    const result = validateEvent({ action: 'a' }, { receivedAt: new Date(Number.NaN) })
    expect(result).toMatchObject({ ok: false, errors: [{ field: '(options).receivedAt', rule: 'invalid_option' }] })
  })
})

describe('action', () => {
  it.each([undefined, null, ''])('is required (%j)', (action) => {
    expect(rules({ action })).toEqual([{ field: 'action', rule: 'required' }])
    expect(rules({})).toEqual([{ field: 'action', rule: 'required' }])
  })

  it('accepts 128 characters and refuses 129', () => {
    expect(accepted({ action: 'a'.repeat(128) }).action).toHaveLength(128)
    expect(rules({ action: 'a'.repeat(129) })).toEqual([{ field: 'action', rule: 'max_length' }])
  })

  it('accepts letters, digits and . _ : / -', () => {
    expect(accepted({ action: 'Auth/login:v2.oauth_token-refresh' }).action).toBe('Auth/login:v2.oauth_token-refresh')
  })

  it.each(['api key', 'café.opened', 'a*b', 'a\tb'])('refuses other characters (%j)', (action) => {
    expect(rules({ action })).toEqual([{ field: 'action', rule: 'pattern' }])
  })

  it('must be a string', () => {
    expect(rules({ action: 42 })).toEqual([{ field: 'action', rule: 'type' }])
  })
})

describe('id', () => {
  it('accepts a UUID of any version and stores it lowercase', () => {
    expect(accepted({ action: 'a', id: '0190B6A4-7C3E-7D2A-9F1E-3B5C2D4E6F70' }).id).toBe('0190b6a4-7c3e-7d2a-9f1e-3b5c2d4e6f70')
    expect(accepted({ action: 'a', id: '9b2f1c3e-5d4a-4e6f-8a7b-1c2d3e4f5a6b' }).id).toBe('9b2f1c3e-5d4a-4e6f-8a7b-1c2d3e4f5a6b')
  })

  it.each(['not-a-uuid', '{0190b6a4-7c3e-7d2a-9f1e-3b5c2d4e6f70}', '0190b6a47c3e7d2a9f1e3b5c2d4e6f70', '0190b6a4-7c3e-7d2a-9f1e-3b5c2d4e6f7g'])(
    'refuses %j',
    (id) => {
      expect(rules({ action: 'a', id })).toEqual([{ field: 'id', rule: 'uuid' }])
    },
  )
})

describe('occurred_at', () => {
  const at = (occurred_at: unknown) => accepted({ action: 'a', occurred_at }).occurred_at
  const refusedAs = (occurred_at: unknown) => rules({ action: 'a', occurred_at })

  it('defaults to received_at', () => {
    expect(at(undefined)).toBe('2026-11-23T09:00:00.123Z')
    expect(at(null)).toBe('2026-11-23T09:00:00.123Z')
  })

  it('reads ISO-8601 with Z or an offset, stored as UTC with milliseconds', () => {
    expect(at('2026-11-23T08:00:00Z')).toBe('2026-11-23T08:00:00.000Z')
    expect(at('2026-11-23T09:30:00.5+01:30')).toBe('2026-11-23T08:00:00.500Z')
    expect(at('2026-11-22T23:00:00-05:00')).toBe('2026-11-23T04:00:00.000Z')
    expect(at('2024-02-29T12:00Z')).toBe('2024-02-29T12:00:00.000Z')
  })

  it('truncates sub-millisecond digits instead of rounding them', () => {
    expect(at('2026-11-23T08:00:00.123999999Z')).toBe('2026-11-23T08:00:00.123Z')
  })

  it.each(['2026-11-23T08:00:00', '2026-11-23', '2026-11-23 08:00:00Z', '2026-02-29T00:00:00Z', '2026-11-23T24:00:00Z', '2026-11-23T08:00:60Z', '2026-11-23T08:00:00+0100', 'yesterday', 'Mon, 23 Nov 2026 08:00:00 GMT'])(
    'refuses %j (not ISO-8601 with a zone, or out of range)',
    (value) => {
      expect(refusedAs(value)).toEqual([{ field: 'occurred_at', rule: 'timestamp' }])
    },
  )

  it('reads epoch milliseconds, but only whole ones', () => {
    expect(at(Date.parse('2026-11-23T08:00:00.042Z'))).toBe('2026-11-23T08:00:00.042Z')
    expect(refusedAs(1.5)).toEqual([{ field: 'occurred_at', rule: 'timestamp' }])
    expect(refusedAs(Number.NaN)).toEqual([{ field: 'occurred_at', rule: 'timestamp' }])
  })

  it('reads a Date and refuses an invalid one', () => {
    expect(at(new Date('2026-11-23T08:00:00.007Z'))).toBe('2026-11-23T08:00:00.007Z')
    expect(refusedAs(new Date('nope'))).toEqual([{ field: 'occurred_at', rule: 'timestamp' }])
  })

  it('accepts exactly 24 hours after received_at and refuses one millisecond more', () => {
    expect(at(receivedAt.getTime() + 24 * HOUR)).toBe('2026-11-24T09:00:00.123Z')
    expect(refusedAs(receivedAt.getTime() + 24 * HOUR + 1)).toEqual([{ field: 'occurred_at', rule: 'not_future' }])
    expect(refusedAs('2026-11-24T09:00:00.124Z')).toEqual([{ field: 'occurred_at', rule: 'not_future' }])
  })

  it('accepts 1970-01-01T00:00:00Z and refuses anything earlier', () => {
    expect(at('1970-01-01T00:00:00Z')).toBe('1970-01-01T00:00:00.000Z')
    expect(at(0)).toBe('1970-01-01T00:00:00.000Z')
    expect(refusedAs('1969-12-31T23:59:59.999Z')).toEqual([{ field: 'occurred_at', rule: 'not_before_epoch' }])
    expect(refusedAs('1970-01-01T00:30:00+01:00')).toEqual([{ field: 'occurred_at', rule: 'not_before_epoch' }])
    expect(refusedAs(-1)).toEqual([{ field: 'occurred_at', rule: 'not_before_epoch' }])
  })

  it('formats every instant exactly as Date#toISOString would', () => {
    const instants = Array.from({ length: 20_000 }, () => Math.floor(Math.random() * (receivedAt.getTime() + 24 * HOUR)))
    const mismatches = instants.filter((ms) => at(ms) !== new Date(ms).toISOString())
    expect(mismatches).toEqual([])
  })

  it.each([true, {}, []])('refuses a %j', (value) => {
    expect(refusedAs(value)).toEqual([{ field: 'occurred_at', rule: 'type' }])
  })
})

describe('category', () => {
  it.each(['info', 'warning', 'critical'])('accepts %s', (category) => {
    expect(accepted({ action: 'a', category }).category).toBe(category)
  })

  it.each(['CRITICAL', 'error', 3])('refuses %j', (category) => {
    expect(rules({ action: 'a', category })).toEqual([{ field: 'category', rule: 'enum' }])
  })
})

describe('optional text fields', () => {
  const fields = Object.entries(TEXT_LIMITS) as Array<[keyof typeof TEXT_LIMITS, number]>

  it.each(fields)('%s accepts %i characters and refuses one more', (field, max) => {
    expect(accepted({ action: 'a', [field]: 'x'.repeat(max) })[field]).toHaveLength(max)
    expect(rules({ action: 'a', [field]: 'x'.repeat(max + 1) })).toEqual([{ field, rule: 'max_length' }])
  })

  it.each(fields)('%s treats null and "" as absent', (field) => {
    expect(accepted({ action: 'a', [field]: null })[field]).toBeNull()
    expect(accepted({ action: 'a', [field]: '' })[field]).toBeNull()
  })

  it.each(fields)('%s must be a string (identifiers also take a safe integer)', (field) => {
    expect(rules({ action: 'a', [field]: 7.5 })).toEqual([{ field, rule: 'type' }])
    expect(rules({ action: 'a', [field]: true })).toEqual([{ field, rule: 'type' }])
  })

  it.each(['actor_id', 'resource_id', 'session_id', 'request_id', 'client_id'])('%s stores a legacy integer id as its decimal text', (field) => {
    expect(accepted({ action: 'a', [field]: 42 })[field as 'actor_id']).toBe('42')
    expect(rules({ action: 'a', [field]: 2 ** 53 })).toEqual([{ field, rule: 'type' }])
  })

  it.each(['actor_type', 'description', 'error_message', 'user_agent'])('%s refuses a number', (field) => {
    expect(rules({ action: 'a', [field]: 7 })).toEqual([{ field, rule: 'type' }])
  })

  it('counts characters, not UTF-16 units: 256 emoji fit in actor_id', () => {
    expect(accepted({ action: 'a', actor_id: '😀'.repeat(256) }).actor_id).toHaveLength(512)
    expect(rules({ action: 'a', actor_id: '😀'.repeat(257) })).toEqual([{ field: 'actor_id', rule: 'max_length' }])
  })

  it('gives error_message the description limit of 2,048 characters', () => {
    expect(TEXT_LIMITS.error_message).toBe(2048)
  })
})

describe('success', () => {
  it('defaults to true and keeps false', () => {
    expect(accepted({ action: 'a' }).success).toBe(true)
    expect(accepted({ action: 'a', success: null }).success).toBe(true)
    expect(accepted({ action: 'a', success: false }).success).toBe(false)
  })

  it.each(['false', '', 0])('refuses %j rather than guess', (success) => {
    expect(rules({ action: 'a', success })).toEqual([{ field: 'success', rule: 'type' }])
  })
})

describe('ip_address', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::FFFF:c000:0201', '192.0.2.1'],
    ['::1', '::1'],
  ])('stores %s as %s', (ip_address, stored) => {
    expect(accepted({ action: 'a', ip_address }).ip_address).toBe(stored)
  })

  it.each(['999.1.1.1', '192.168.001.001', 'fe80::1%eth0', '10.0.0.0/8', '2001:db8::/32', ' 192.0.2.1', 'localhost', '1::2::3'])(
    'refuses %j',
    (ip_address) => {
      expect(rules({ action: 'a', ip_address })).toEqual([{ field: 'ip_address', rule: 'ip_address' }])
    },
  )
})

describe('tenant_id', () => {
  it('accepts 128 characters of letters, digits and . _ : - and refuses 129', () => {
    expect(accepted({ action: 'a', tenant_id: 'Acme_1.eu:prod-' }).tenant_id).toBe('Acme_1.eu:prod-')
    expect(accepted({ action: 'a', tenant_id: 't'.repeat(128) }).tenant_id).toHaveLength(128)
    expect(rules({ action: 'a', tenant_id: 't'.repeat(129) })).toEqual([{ field: 'tenant_id', rule: 'max_length' }])
  })

  it('refuses a slash, which action allows but tenant ids do not', () => {
    expect(rules({ action: 'a', tenant_id: 'acme/eu' })).toEqual([{ field: 'tenant_id', rule: 'pattern' }])
  })
})

describe('fields outside the schema', () => {
  it('refuses an unknown field rather than drop it silently', () => {
    expect(rules({ action: 'a', actorId: 'u1' })).toEqual([{ field: 'actorId', rule: 'unknown_field' }])
  })

  it('refuses a client-sent received_at: only the server sets it', () => {
    expect(rules({ action: 'a', received_at: '2026-11-23T09:00:00Z' })).toEqual([{ field: 'received_at', rule: 'server_set' }])
  })
})

describe('error reporting', () => {
  it('reports every failing field at once', () => {
    expect(
      rules({
        id: 'x',
        action: 'bad action',
        category: 'urgent',
        occurred_at: '2026-11-23',
        actor_id: 'u'.repeat(257),
        success: 'yes',
        ip_address: '300.0.0.1',
        tenant_id: 'a b',
        metadata: { n: Number.NaN },
        actorId: 'typo',
      }),
    ).toEqual([
      { field: 'id', rule: 'uuid' },
      { field: 'tenant_id', rule: 'pattern' },
      { field: 'occurred_at', rule: 'timestamp' },
      { field: 'action', rule: 'pattern' },
      { field: 'category', rule: 'enum' },
      { field: 'actor_id', rule: 'max_length' },
      { field: 'success', rule: 'type' },
      { field: 'ip_address', rule: 'ip_address' },
      { field: 'metadata.n', rule: 'json_value' },
      { field: 'actorId', rule: 'unknown_field' },
    ])
  })

  it('caps the list at 50 errors and says how many more there were', () => {
    const input: Record<string, unknown> = { action: 'a' }
    for (let i = 0; i < 1000; i++) input[`extra${i}`] = i
    const result = validate(input)
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.errors).toHaveLength(51)
    expect(result.errors[50]).toEqual({ field: '(root)', rule: 'too_many_errors', message: '950 more errors not shown' })
  })
})
