import { describe, expect, it } from 'vitest'
import { queueKeys } from './keys.js'

describe('queue key layout', () => {
  it('puts every key of a queue under one hash tag, so scripts can touch them all in Redis Cluster', () => {
    const keys = queueKeys()
    expect([keys.events, keys.deadLetters, keys.counters, keys.workers, keys.worker('w1')]).toEqual([
      'auditq:{default}:events',
      'auditq:{default}:dlq',
      'auditq:{default}:counters',
      'auditq:{default}:workers',
      'auditq:{default}:worker:w1',
    ])
  })

  it('keeps queues with different names or prefixes apart', () => {
    expect(queueKeys({ prefix: 'acme', queue: 'billing' }).events).toBe('acme:{billing}:events')
  })

  it('refuses a name that would move the hash tag', () => {
    expect(() => queueKeys({ queue: 'a}b' })).toThrow(expect.objectContaining({ code: 'AUDITQ_CONFIG' }))
    expect(() => queueKeys({ prefix: '' })).toThrow(expect.objectContaining({ code: 'AUDITQ_CONFIG' }))
  })
})
