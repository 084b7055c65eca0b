import { describe, expect, it } from 'vitest'
import { AlertRules } from './alerts.js'
import type { Finding } from './health-rules.js'

const backed: Finding = { rule: 'queue_backed_up', status: 'degraded', issue: 'queue backed up: 6,000 events waiting (threshold 5,000)' }
const failing: Finding = { rule: 'high_failure_rate', status: 'critical', issue: 'high failure rate' }

describe('alert rules', () => {
  it('fires once while a rule holds, resolves once when it stops', () => {
    const rules = new AlertRules({ cooldownMs: 60_000, dedupPrefix: 'auditq:default' })
    expect(rules.observe([], 0)).toEqual([])
    expect(rules.observe([backed], 1_000)).toEqual([
      { state: 'firing', rule: 'queue_backed_up', status: 'degraded', issue: backed.issue, dedupKey: 'auditq:default:queue_backed_up', firedAt: new Date(1_000).toISOString() },
    ])
    for (let t = 2_000; t < 200_000; t += 2_000) expect(rules.observe([backed], t)).toEqual([])
    expect(rules.observe([], 200_000)).toEqual([
      expect.objectContaining({ state: 'resolved', rule: 'queue_backed_up', firedAt: new Date(1_000).toISOString(), resolvedAt: new Date(200_000).toISOString() }),
    ])
    expect(rules.observe([], 202_000)).toEqual([])
  })

  it('a flapping rule sends one fire and one resolve per cooldown, then fires again if it still holds', () => {
    const rules = new AlertRules({ cooldownMs: 10_000, dedupPrefix: 'q' })
    expect(rules.observe([backed], 0).map((n) => n.state)).toEqual(['firing'])
    expect(rules.observe([], 1_000).map((n) => n.state)).toEqual(['resolved'])
    expect(rules.observe([backed], 2_000)).toEqual([])
    expect(rules.observe([], 3_000)).toEqual([]) // its fire was held back, so is its resolve
    expect(rules.observe([backed], 4_000)).toEqual([])
    expect(rules.suppressed).toBe(2)
    const later = rules.observe([backed], 11_000)
    expect(later).toEqual([expect.objectContaining({ state: 'firing', firedAt: new Date(4_000).toISOString() })])
  })

  it('a rule with a hold fires only once it has held that long; a shorter spell sends nothing', () => {
    const noWorker: Finding = { rule: 'no_live_worker', status: 'degraded', issue: 'no live queue worker' }
    const rules = new AlertRules({ cooldownMs: 10_000, dedupPrefix: 'q', holdMs: { no_live_worker: 6_000 } })
    // Service start: no heartbeat yet for 4 s, then the worker is live. Nothing is sent either way.
    for (let t = 0; t <= 4_000; t += 1_000) expect(rules.observe([noWorker], t)).toEqual([])
    expect(rules.observe([], 5_000)).toEqual([])
    // Later the worker dies for good: firing once it has held 6 s, dated from when it began.
    for (let t = 20_000; t < 26_000; t += 1_000) expect(rules.observe([noWorker, backed], t).map((n) => n.rule)).toEqual(t === 20_000 ? ['queue_backed_up'] : [])
    expect(rules.observe([noWorker, backed], 26_000)).toEqual([expect.objectContaining({ state: 'firing', rule: 'no_live_worker', firedAt: new Date(20_000).toISOString() })])
    expect(rules.observe([], 27_000).map((n) => [n.rule, n.state])).toEqual([['no_live_worker', 'resolved'], ['queue_backed_up', 'resolved']])
  })

  it('rules are independent: each has its own key and cooldown', () => {
    const rules = new AlertRules({ cooldownMs: 10_000, dedupPrefix: 'q' })
    expect(rules.observe([backed], 0).map((n) => n.dedupKey)).toEqual(['q:queue_backed_up'])
    expect(rules.observe([backed, failing], 1_000).map((n) => [n.dedupKey, n.state])).toEqual([['q:high_failure_rate', 'firing']])
    expect(rules.observe([failing], 2_000).map((n) => [n.rule, n.state])).toEqual([['queue_backed_up', 'resolved']])
    expect(rules.observe([], 3_000).map((n) => [n.rule, n.state])).toEqual([['high_failure_rate', 'resolved']])
  })
})
