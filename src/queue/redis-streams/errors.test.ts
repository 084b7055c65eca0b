import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { AuditqError, isAuditqError } from '../../errors.js'
import { installErrorHandler } from '../../http/error-handler.js'
import { QueueUnavailableError } from './errors.js'

describe('QueueUnavailableError', () => {
  it('is an AuditqError from the catalog, so every layer maps it by code', () => {
    const error = new QueueUnavailableError('Redis did not confirm the enqueue: timeout', { cause: new Error('timeout'), enqueued: ['a'] })
    expect(error).toBeInstanceOf(AuditqError)
    expect(isAuditqError(error)).toBe(true)
    expect(error).toMatchObject({ code: 'AUDITQ_QUEUE_UNAVAILABLE', statusCode: 503, enqueued: ['a'] })
  })

  it('reaches an HTTP client as 503 AUDITQ_QUEUE_UNAVAILABLE with Retry-After, not as an internal error', async () => {
    const app = Fastify()
    installErrorHandler(app, { bodyLimitBytes: 1024, retryAfterSeconds: 7 })
    app.get('/enqueue', async () => {
      throw new QueueUnavailableError('Redis did not confirm the enqueue: connection lost', { cause: new Error('ECONNRESET') })
    })
    const response = await app.inject({ method: 'GET', url: '/enqueue' })
    await app.close()

    expect(response.statusCode).toBe(503)
    expect(response.headers['retry-after']).toBe('7')
    expect(response.json()).toMatchObject({ code: 'AUDITQ_QUEUE_UNAVAILABLE' })
  })
})
