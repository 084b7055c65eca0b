import { describe, expect, it } from 'vitest'
import { parseAge } from '../retention/cleanup.js'
import { keepActionsFor } from './cleanup.js'

describe('auditq cleanup arguments', () => {
  it('--keep-actions adds to the configured exclusions and cannot remove them', () => {
    expect(keepActionsFor(['gdpr.consent'], 'user.login, ,user.login')).toEqual(['gdpr.consent', 'user.login'])
    expect(keepActionsFor(['gdpr.consent'], '')).toEqual(['gdpr.consent'])
    expect(keepActionsFor([], undefined)).toEqual([])
  })

  it('--older-than takes d, h and min; refuses a bare m (months or minutes?) and ages past 100 years', () => {
    expect(parseAge('90d')).toBe(90 * 86_400_000)
    expect(parseAge('12h')).toBe(12 * 3_600_000)
    expect(parseAge('30min')).toBe(30 * 60_000)
    for (const bad of ['6m', '90', 'd', '-1d', '1.5d', '36501d', '99999999999d', '90 days']) expect(parseAge(bad), bad).toBeUndefined()
  })
})
