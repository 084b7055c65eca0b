import { describe, expect, it } from 'vitest'
import { isAuditqError } from '../errors.js'
import { loadBullmq } from './bullmq.js'
import { stableId } from './core.js'

describe('stableId', () => {
  it('gives the same item the same UUID and different items different ones', () => {
    const id = stableId('redis-list', Buffer.from('{"a":1}'))
    expect(id).toBe(stableId('redis-list', Buffer.from('{"a":1}')))
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(stableId('redis-list', Buffer.from('{"a":2}'))).not.toBe(id)
    // Parts are length-prefixed: moving a boundary changes the id.
    expect(stableId('ab', 'c')).not.toBe(stableId('a', 'bc'))
  })
})

describe('loadBullmq', () => {
  it('names the missing optional package with AUDITQ_IMPORT_UNAVAILABLE', async () => {
    const missing = Object.assign(new Error("Cannot find package 'bullmq'"), { code: 'ERR_MODULE_NOT_FOUND' })
    const error: unknown = await loadBullmq(() => Promise.reject(missing)).catch((caught: unknown) => caught)
    expect(isAuditqError(error) && error.code).toBe('AUDITQ_IMPORT_UNAVAILABLE')
    expect((error as Error).message).toContain('npm install bullmq')
  })

  it('passes on other load failures as they are', async () => {
    const broken = new Error('syntax error in bullmq')
    await expect(loadBullmq(() => Promise.reject(broken))).rejects.toBe(broken)
  })
})
