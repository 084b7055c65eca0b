import { errors as joseErrors, jwtVerify, SignJWT } from 'jose'
import { randomUUID } from 'node:crypto'
import { AuditqError } from '../errors.js'
import { MAX_TTL_SECONDS, parseViewerTokenRequest, VIEWER_PERMISSIONS, type ViewerGrant, type ViewerPermission, type ViewerRestrictions, type ViewerTokenRequest } from './grant.js'

/**
 * Viewer tokens are JWTs (HS256, signed with `jose`) whose audience only the viewer's read routes
 * accept: the API-key resolver never takes them, so a token lifted from a browser reads one
 * tenant's events (narrowed by its restrictions) until it expires, and nothing else. Rotating the
 * secret invalidates every token at once.
 */
export const VIEWER_AUDIENCE = 'auditq-viewer'
export const VIEWER_ISSUER = 'auditq'
const ALGORITHM = 'HS256'
/** HS256 wants at least 256 bits of key; a shorter secret is refused where it is configured. */
export const MIN_SECRET_LENGTH = 32
/** Clocks of the minting backend and the service may differ a little. */
const CLOCK_TOLERANCE_SECONDS = 5

export interface CreateViewerTokenOptions extends ViewerTokenRequest {
  /** The viewer signing secret the service is configured with (`AUDITQ_VIEWER_SECRET`). */
  secret: string
  /** For tests and replays: the minting time. Default: now. */
  now?: Date
}

export interface ViewerToken {
  token: string
  expires_at: string
}

/** Mints a token locally, for backends that hold the signing secret: no round trip to the service. */
export async function createViewerToken(options: CreateViewerTokenOptions): Promise<ViewerToken> {
  const key = secretKey(options.secret)
  const { secret: _secret, now, ...request } = options
  const checked = parseViewerTokenRequest(request)
  const issuedAt = Math.floor((now ?? new Date()).getTime() / 1000)
  const expiresAt = issuedAt + checked.ttl_seconds
  const token = await new SignJWT({ tid: checked.tenant_id, rst: checked.restrictions, prm: checked.permissions })
    .setProtectedHeader({ alg: ALGORITHM, typ: 'JWT' })
    .setIssuer(VIEWER_ISSUER)
    .setAudience(VIEWER_AUDIENCE)
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .setJti(randomUUID())
    .sign(key)
  return { token, expires_at: new Date(expiresAt * 1000).toISOString() }
}

/** Checks signature, audience, issuer and lifetime; answers the grant or throws a viewer-token error. */
export async function verifyViewerToken(token: string, secret: string, now?: Date): Promise<ViewerGrant> {
  let payload: Record<string, unknown>
  try {
    const verified = await jwtVerify(token, secretKey(secret), {
      algorithms: [ALGORITHM],
      audience: VIEWER_AUDIENCE,
      issuer: VIEWER_ISSUER,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['exp', 'iat', 'tid'],
      ...(now ? { currentDate: now } : {}),
    })
    payload = verified.payload
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw new AuditqError('AUDITQ_VIEWER_TOKEN_EXPIRED', 'the viewer token has expired; reload the page to get a new one')
    throw new AuditqError('AUDITQ_VIEWER_TOKEN_INVALID', 'the viewer token is not valid (malformed, signed with another secret, or not meant for the viewer)')
  }
  const exp = payload.exp as number
  const iat = payload.iat as number
  // A token minted with a longer life (by a backend that skipped the SDK) is refused, not trusted.
  if (exp - iat > MAX_TTL_SECONDS) throw new AuditqError('AUDITQ_VIEWER_TOKEN_INVALID', 'the viewer token lives longer than the one-hour maximum')
  let request: ReturnType<typeof parseViewerTokenRequest>
  try {
    request = parseViewerTokenRequest({ tenant_id: payload.tid, restrictions: payload.rst ?? {}, permissions: payload.prm ?? ['read'] })
  } catch {
    throw new AuditqError('AUDITQ_VIEWER_TOKEN_INVALID', 'the viewer token carries malformed claims')
  }
  return { tenant_id: request.tenant_id, restrictions: request.restrictions, permissions: request.permissions, expires_at: new Date(exp * 1000).toISOString() }
}

export function hasViewerPermission(grant: ViewerGrant, permission: ViewerPermission): boolean {
  return grant.permissions.includes(permission)
}

function secretKey(secret: string): Uint8Array {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new AuditqError('AUDITQ_CONFIG', `the viewer signing secret must be at least ${MIN_SECRET_LENGTH} characters (generate one with \`openssl rand -base64 48\`)`)
  }
  return new TextEncoder().encode(secret)
}

export { VIEWER_PERMISSIONS }
export type { ViewerGrant, ViewerPermission, ViewerRestrictions, ViewerTokenRequest }
