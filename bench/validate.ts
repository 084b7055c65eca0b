/**
 * Validation throughput: the hand-written validator against an equivalent zod v4 schema, both
 * producing every error with our rule names, on the same events in the same run.
 *
 *   npm run bench:validate
 *
 * The zod variant reuses our legacy-shape mapping and metadata walk (zod has no byte-size, depth
 * or cycle check; zod 4.6.7's `z.json()` reports a cyclic object as valid, and `safeParse` throws
 * when a getter throws), so the difference measured is the top-level field checks and the issue
 * mapping: exactly what choosing zod would change.
 */
import { v7 as uuidv7 } from 'uuid'
import { z } from 'zod'
import { normalizeIpAddress } from '../src/event/ip.js'
import { checkMetadata } from '../src/event/metadata.js'
import { isAbsent, normalizeLegacyShape } from '../src/event/normalize.js'
import { parseOccurredAt, toIsoMillis } from '../src/event/timestamp.js'
import { noAddedFields, CATEGORIES, type AuditEvent, type FieldError, type ValidationResult } from '../src/event/types.js'
import { TEXT_LIMITS, validateEvent } from '../src/event/validate.js'
import { formatRate, measureSync } from './harness.js'
import { printTable } from './stats.js'

const receivedAt = new Date('2026-11-23T09:00:00.000Z')

/** 8 fields and a small metadata object: the typical `log()` call. */
const typicalEvent = {
  action: 'api_key.created',
  actor_id: 'user_8f3a2c',
  actor_type: 'user',
  resource_type: 'api_key',
  resource_id: 'key_19bd77',
  ip_address: '203.0.113.42',
  user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  category: 'info',
  metadata: { key_name: 'ci-deploy', permissions: ['read', 'write'] },
}

/** A legacy logger's permanent-ban payload (snake_case names). */
const legacyEvent = {
  user_id: 'user_8f3a2c',
  resource_type: 'account',
  event_type: 'permanent_ban_applied',
  event_category: 'critical',
  description: 'User permanently banned after 5 violations',
  metadata: { violation_count: 5, ban_level: 'PERMANENT' },
  ip_address: '2001:DB8:0:0:0:0:0:1',
  user_agent: 'curl/8.5.0',
}

const invalidEvent = { action: 'bad action!', actor_id: 'x'.repeat(300), category: 'urgent', ip_address: '999.1.1.1', actorId: 'typo' }

const hasNoNul = (s: string) => !s.includes('\u0000')
const isWellFormed = (s: string) => (s as string & { isWellFormed(): boolean }).isWellFormed()

function zodText(max: number) {
  return z
    .string()
    .max(max)
    .refine(hasNoNul, { params: { rule: 'no_nul' }, abort: true })
    .refine(isWellFormed, { params: { rule: 'unicode' } })
    .nullish()
}

const zodSchema = z.strictObject({
  id: z.uuid({ version: undefined }).nullish(),
  tenant_id: z.string().max(128).regex(/^[A-Za-z0-9._:-]+$/).nullish(),
  action: z.string().max(128).regex(/^[A-Za-z0-9._:/-]+$/),
  category: z.enum(CATEGORIES).nullish(),
  occurred_at: z.union([z.string(), z.number(), z.date()]).nullish(),
  success: z.boolean().nullish(),
  ip_address: z.string().max(64).nullish(),
  metadata: z.unknown(),
  ...Object.fromEntries(Object.entries(TEXT_LIMITS).map(([field, max]) => [field, zodText(max)])),
})

const ZOD_RULES: Record<string, string> = {
  invalid_type: 'type',
  too_big: 'max_length',
  invalid_format: 'pattern',
  invalid_value: 'enum',
}

/** The same contract as validateEvent, built on zod. */
function validateWithZod(input: unknown): ValidationResult {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, errors: [{ field: '(root)', rule: 'type', message: 'must be an object' }] }
  }
  const normalized = normalizeLegacyShape(input)
  const values: Record<string, unknown> = {}
  for (const [field, entry] of Object.entries(normalized.fields)) if (!isAbsent(entry.value)) values[field] = entry.value
  for (const name of normalized.unknownFields) values[name] = true
  const errors: FieldError[] = [...normalized.errors]
  const parsed = zodSchema.safeParse(values)
  if (!parsed.success) errors.push(...parsed.error.issues.flatMap(issueToErrors))
  const occurred = values.occurred_at === undefined ? { ok: true as const, ms: receivedAt.getTime() } : parseOccurredAt(values.occurred_at, receivedAt.getTime())
  if (!occurred.ok) errors.push({ field: 'occurred_at', rule: occurred.rule, message: occurred.message })
  const ip = typeof values.ip_address === 'string' ? normalizeIpAddress(values.ip_address) : null
  if (typeof values.ip_address === 'string' && ip === null) errors.push({ field: 'ip_address', rule: 'ip_address', message: 'invalid' })
  const metadata = values.metadata === undefined ? { value: {}, errors: { items: [] } } : checkMetadata(values.metadata, { root: 'metadata', prefix: 'metadata' })
  errors.push(...metadata.errors.items)
  if (errors.length > 0 || !parsed.success || !occurred.ok) return { ok: false, errors }
  const d = parsed.data as Record<string, unknown>
  const text = (field: keyof typeof TEXT_LIMITS) => (d[field] as string | undefined) ?? null
  const event: AuditEvent = {
    id: (d.id as string | undefined)?.toLowerCase() ?? uuidv7(),
    tenant_id: (d.tenant_id as string | undefined) ?? 'default',
    occurred_at: toIsoMillis(occurred.ms),
    received_at: toIsoMillis(receivedAt.getTime()),
    action: d.action as string,
    category: (d.category as AuditEvent['category'] | undefined) ?? 'info',
    actor_id: text('actor_id'),
    actor_type: text('actor_type'),
    resource_type: text('resource_type'),
    resource_id: text('resource_id'),
    success: (d.success as boolean | undefined) ?? true,
    error_message: text('error_message'),
    description: text('description'),
    ip_address: ip,
    user_agent: text('user_agent'),
    session_id: text('session_id'),
    request_id: text('request_id'),
    client_id: text('client_id'),
    metadata: metadata.value,
    ...noAddedFields(),
  }
  return { ok: true, event }
}

function issueToErrors(issue: z.core.$ZodIssue): FieldError[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ field: key, rule: key === 'received_at' ? 'server_set' : 'unknown_field', message: issue.message }))
  }
  const field = issue.path.join('.')
  const custom = issue.code === 'custom' ? (issue.params as { rule?: string } | undefined)?.rule : undefined
  const rule = custom ?? (field === 'action' && issue.code === 'invalid_type' ? 'required' : ZOD_RULES[issue.code] ?? issue.code)
  return [{ field, rule, message: issue.message }]
}

// Both must agree before their speed means anything.
for (const event of [typicalEvent, legacyEvent]) {
  if (!validateEvent(event, { receivedAt }).ok || !validateWithZod(event).ok) throw new Error('a benchmark event is invalid')
}

/**
 * Each iteration validates a batch, so the per-iteration timing (a few µs, about the cost of one
 * validation) does not flatten the difference: events/s = iterations/s × BATCH.
 */
const BATCH = 1000

const SUITES: [string, unknown][] = [
  ['typical event (8 fields + small metadata)', typicalEvent],
  ['legacy logger shape (aliases + IPv6 normalization)', legacyEvent],
  ['invalid event (5 errors)', invalidEvent],
]

const rows: string[][] = []
for (const [name, event] of SUITES) {
  const handWritten = measureSync(() => {
    for (let i = 0; i < BATCH; i++) validateEvent(event, { receivedAt })
  })
  const zod = measureSync(() => {
    for (let i = 0; i < BATCH; i++) validateWithZod(event)
  })
  rows.push(
    [name, 'hand-written', formatRate(handWritten.hz * BATCH), handWritten.spreadPercent.toFixed(1), `${(handWritten.hz / zod.hz).toFixed(2)}×`],
    [name, 'zod v4', formatRate(zod.hz * BATCH), zod.spreadPercent.toFixed(1), '1.00×'],
  )
}
printTable(['event', 'validator', 'events/s', '± %', 'vs zod'], rows)
