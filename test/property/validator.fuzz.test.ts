/**
 * validateEvent against anything a caller can hand it. Whatever the input, it must return (never
 * throw, never hang), and either an event that keeps every documented rule and is a fixed point of
 * validation, or errors that each name a field, a documented rule and a message.
 */
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import type { ValidationResult } from '../../src/event/types.js'
import { validateEvent, type ValidateOptions } from '../../src/event/validate.js'
import {
  anyChar,
  buildHostile,
  eventFromPlan,
  eventPlan,
  eventRecipe,
  fieldErrorViolations,
  hostileText,
  revalidationViolations,
  sameJson,
  storedFormViolations,
} from './arbitraries.js'
import { CaseTally, fuzzParameters, testTimeoutMs, type Budget } from './campaign.js'

const RECEIVED_AT = new Date('2026-11-23T09:00:00.000Z')
/** Far above the ~1 ms a hostile event takes; catches a hang or a quadratic walk, not a slow CI box. */
const SLOW_VALIDATION_MS = 3_000

const tally = new CaseTally('validator')
afterAll(() => tally.report())

/** Runs validateEvent and returns every broken promise, with the result for further checks. */
function judge(input: unknown, options: ValidateOptions, inputClass: string): { result: ValidationResult | undefined; problems: string[] } {
  const started = performance.now()
  let result: ValidationResult
  try {
    result = validateEvent(input, options)
  } catch (error) {
    return { result: undefined, problems: [`validateEvent threw: ${String(error)}`] }
  }
  const problems: string[] = []
  const elapsed = performance.now() - started
  if (elapsed > SLOW_VALIDATION_MS) problems.push(`validation took ${Math.round(elapsed)} ms`)
  tally.count(`${inputClass} → ${result.ok ? 'ok' : 'errors'}`)
  if (result.ok) {
    problems.push(...storedFormViolations(result.event, options.receivedAt.getTime()))
    problems.push(...revalidationViolations(result.event))
  } else {
    problems.push(...fieldErrorViolations(result.errors))
    for (const error of result.errors) tally.note(`rule ${error.rule}`)
  }
  return { result, problems }
}

/** Two validations of the same plain data agree (ids aside: an absent id is generated each time). */
function sameOutcome(a: ValidationResult, b: ValidationResult): boolean {
  if (a.ok !== b.ok) return false
  if (!a.ok || !b.ok) return sameJson(a.ok ? undefined : a.errors, b.ok ? undefined : b.errors)
  return sameJson({ ...a.event, id: '' }, { ...b.event, id: '' })
}

const options = { receivedAt: RECEIVED_AT }
const receivedAtMs = RECEIVED_AT.getTime()

describe('validateEvent never throws and keeps its promises', () => {
  const anyJson: Budget = { ciRuns: 3_000, ciSeconds: 8 }
  it('for any JSON value', () => {
    const value = fc.oneof(fc.jsonValue({ stringUnit: anyChar }), fc.jsonValue({ maxDepth: 4 }), fc.string({ unit: 'binary' }))
    fc.assert(
      fc.property(value, (input) => {
        const { result, problems } = judge(input, options, 'json value')
        expect(problems).toEqual([])
        expect(sameOutcome(result!, validateEvent(input, options))).toBe(true)
      }),
      fuzzParameters(anyJson),
    )
  }, testTimeoutMs(anyJson))

  const anything: Budget = { ciRuns: 2_000, ciSeconds: 6 }
  it('for any JavaScript value (Maps, Dates, BigInts, sparse and typed arrays, null prototypes, boxed values)', () => {
    const value = fc.anything({
      withBigInt: true, withBoxedValues: true, withDate: true, withMap: true, withNullPrototype: true,
      withObjectString: true, withSet: true, withSparseArray: true, withTypedArray: true, stringUnit: 'binary',
    })
    fc.assert(
      fc.property(value, (input) => {
        expect(judge(input, options, 'any js value').problems).toEqual([])
      }),
      fuzzParameters(anything),
    )
  }, testTimeoutMs(anything))

  const eventShaped: Budget = { ciRuns: 4_000, ciSeconds: 12 }
  it('for event-shaped JSON: canonical and legacy-alias fields, edge values, odd names', () => {
    fc.assert(
      fc.property(eventPlan(receivedAtMs), (plan) => {
        const input = eventFromPlan(plan)
        const { result, problems } = judge(input, options, 'event-shaped json')
        expect(problems).toEqual([])
        expect(sameOutcome(result!, validateEvent(input, options))).toBe(true)
        // What a client sends as JSON must validate the same once it went through JSON.
        expect(sameOutcome(result!, validateEvent(JSON.parse(JSON.stringify(input)), options))).toBe(true)
      }),
      fuzzParameters(eventShaped),
    )
  }, testTimeoutMs(eventShaped))

  const hostile: Budget = { ciRuns: 2_000, ciSeconds: 12 }
  it('for hostile objects: proxies, throwing and shape-shifting getters, cycles, deep nesting, huge strings, exotic values', () => {
    fc.assert(
      fc.property(eventRecipe(receivedAtMs), (recipe) => {
        const input = buildHostile(recipe)
        expect(judge(input, options, `hostile ${recipe.t}`).problems).toEqual([])
      }),
      fuzzParameters(hostile),
    )
  }, testTimeoutMs(hostile))

  const withOptions: Budget = { ciRuns: 1_500, ciSeconds: 5 }
  it('for any receivedAt and defaultTenant option', () => {
    const receivedAt = fc.oneof(
      fc.date({ min: new Date('1971-01-01T00:00:00Z'), max: new Date('9998-12-31T00:00:00Z'), noInvalidDate: true }),
      fc.constant(new Date(Number.NaN)),
    )
    const defaultTenant = fc.option(fc.oneof(fc.stringMatching(/^[A-Za-z0-9._:-]{1,130}$/), hostileText), { nil: undefined })
    fc.assert(
      fc.property(eventPlan(receivedAtMs), receivedAt, defaultTenant, (plan, at, tenant) => {
        const input = eventFromPlan(plan)
        const validateOptions: ValidateOptions = tenant === undefined ? { receivedAt: at } : { receivedAt: at, defaultTenant: tenant }
        const { result, problems } = judge(input, validateOptions, 'with options')
        expect(problems).toEqual([])
        if (Number.isNaN(at.getTime())) expect(result).toMatchObject({ ok: false, errors: [{ field: '(options).receivedAt', rule: 'invalid_option' }] })
        if (result?.ok && !Object.hasOwn(input, 'tenant_id')) expect(result.event.tenant_id).toBe(tenant ?? 'default')
      }),
      fuzzParameters(withOptions),
    )
  }, testTimeoutMs(withOptions))
})

describe('the oracles are not vacuous', () => {
  it('flag stored events and error lists that break the documented rules', () => {
    const good = validateEvent({ action: 'ok', metadata: { a: 1 } }, options)
    if (!good.ok) throw new Error('a minimal event must validate')
    expect(storedFormViolations(good.event, receivedAtMs)).toEqual([])
    expect(revalidationViolations(good.event)).toEqual([])
    const broken = [
      { action: 'has space' },
      { id: '0190B6A4-7C3E-7D2A-9F1E-3B5C2D4E6F70' },
      { ip_address: '::ffff:192.0.2.1' },
      { occurred_at: '2026-11-23T09:00:00Z' },
      { actor_id: 'a\u0000b' },
      { description: '\uD800' },
      { metadata: { deep: [[[[[[[[1]]]]]]]] } },
      { metadata: { big: 'x'.repeat(16_384) } },
      { category: 'urgent' },
    ]
    for (const override of broken) {
      expect(storedFormViolations({ ...good.event, ...override } as typeof good.event, receivedAtMs), JSON.stringify(override)).not.toEqual([])
    }
    expect(fieldErrorViolations([{ field: '', rule: 'type', message: 'm' }])).not.toEqual([])
    expect(fieldErrorViolations([{ field: 'x', rule: 'made_up', message: 'm' }])).not.toEqual([])
    expect(fieldErrorViolations([{ field: 'x\u0000', rule: 'type', message: 'm' }])).not.toEqual([])
  })
})

