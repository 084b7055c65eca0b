import { describe, expect, it } from 'vitest'
import { requestContext } from './request-context.js'

describe('requestContext', () => {
  it('reads a plain Node request', () => {
    const context = requestContext({
      headers: { 'user-agent': 'curl/8', 'x-request-id': 'abc' },
      socket: { remoteAddress: '::ffff:192.0.2.1' },
    })
    expect(context).toEqual({ ip_address: '192.0.2.1', user_agent: 'curl/8', request_id: 'abc' })
  })

  it('prefers the framework-resolved ip and request id (Express, Fastify)', () => {
    const context = requestContext({ headers: {}, ip: '2001:db8::5', id: 'req-7', socket: { remoteAddress: '10.0.0.1' } })
    expect(context).toEqual({ ip_address: '2001:db8::5', request_id: 'req-7' })
  })

  it('ignores X-Forwarded-For, which any client can forge', () => {
    const context = requestContext({ headers: { 'x-forwarded-for': '1.2.3.4' }, socket: { remoteAddress: '10.0.0.1' } })
    expect(context.ip_address).toBe('10.0.0.1')
  })
})
