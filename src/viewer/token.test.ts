import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { createViewerToken, verifyViewerToken } from './token.js'

const SECRET = 'a-viewer-signing-secret-of-at-least-32-chars'
const OTHER = 'another-viewer-signing-secret-32-chars-long!'

describe('viewer tokens', () => {
  it('carry the tenant, restrictions and permissions, and expire after their lifetime', async () => {
    const now = new Date('2026-01-01T00:00:00Z')
    const { token, expires_at } = await createViewerToken({ secret: SECRET, tenant_id: 'acme', restrictions: { actor_id: 'u-1' }, permissions: ['export'], now })
    expect(expires_at).toBe('2026-01-01T00:15:00.000Z')
    const grant = await verifyViewerToken(token, SECRET, new Date('2026-01-01T00:14:00Z'))
    expect(grant).toEqual({ tenant_id: 'acme', restrictions: { actor_id: 'u-1' }, permissions: ['read', 'export'], expires_at })
    await expect(verifyViewerToken(token, SECRET, new Date('2026-01-01T00:16:00Z'))).rejects.toMatchObject({ code: 'AUDITQ_VIEWER_TOKEN_EXPIRED' })
  })

  it('fail after the secret is rotated, and when tampered with', async () => {
    const { token } = await createViewerToken({ secret: SECRET, tenant_id: 'acme' })
    await expect(verifyViewerToken(token, OTHER)).rejects.toMatchObject({ code: 'AUDITQ_VIEWER_TOKEN_INVALID' })
    const [head, body, signature] = token.split('.')
    const claims = JSON.parse(Buffer.from(body!, 'base64url').toString())
    const widened = Buffer.from(JSON.stringify({ ...claims, tid: 'other-tenant' })).toString('base64url')
    await expect(verifyViewerToken(`${head}.${widened}.${signature}`, SECRET)).rejects.toMatchObject({ code: 'AUDITQ_VIEWER_TOKEN_INVALID' })
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${body}.`
    await expect(verifyViewerToken(unsigned, SECRET)).rejects.toMatchObject({ code: 'AUDITQ_VIEWER_TOKEN_INVALID' })
  })

  it('refuse a token for another audience or with a lifetime over an hour, even when correctly signed', async () => {
    const key = new TextEncoder().encode(SECRET)
    const now = Math.floor(Date.now() / 1000)
    const api = await new SignJWT({ tid: 'acme' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('auditq').setAudience('auditq-api').setIssuedAt(now).setExpirationTime(now + 60).sign(key)
    await expect(verifyViewerToken(api, SECRET)).rejects.toMatchObject({ code: 'AUDITQ_VIEWER_TOKEN_INVALID' })
    const long = await new SignJWT({ tid: 'acme' }).setProtectedHeader({ alg: 'HS256' }).setIssuer('auditq').setAudience('auditq-viewer').setIssuedAt(now).setExpirationTime(now + 7200).sign(key)
    await expect(verifyViewerToken(long, SECRET)).rejects.toMatchObject({ code: 'AUDITQ_VIEWER_TOKEN_INVALID' })
  })

  it('are minted only from a valid request, naming each broken field', async () => {
    await expect(createViewerToken({ secret: SECRET, tenant_id: '', ttl_seconds: 3601, permissions: ['write' as 'read'] })).rejects.toMatchObject({
      code: 'AUDITQ_VALIDATION',
      details: [expect.objectContaining({ field: 'tenant_id' }), expect.objectContaining({ field: 'permissions' }), expect.objectContaining({ field: 'ttl_seconds' })],
    })
    await expect(createViewerToken({ secret: 'short', tenant_id: 'acme' })).rejects.toMatchObject({ code: 'AUDITQ_CONFIG' })
  })
})
