/**
 * The webhook signature, for senders and receivers alike (`verifyWebhook` is exported from the
 * package). Header:
 *
 *   X-Auditq-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
 *
 * `body` is the request body exactly as sent (after gzip when Content-Encoding is gzip). The
 * timestamp is inside the MAC, so a captured request cannot be replayed outside the window.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export const SIGNATURE_HEADER = 'x-auditq-signature'
/** How far a signature's timestamp may be from the receiver's clock (either way) by default. */
export const DEFAULT_TOLERANCE_SECONDS = 300

export function signWebhook(secret: string, body: Uint8Array, nowSeconds = Math.floor(Date.now() / 1000)): string {
  return `t=${nowSeconds},v1=${mac(secret, nowSeconds, body)}`
}

function mac(secret: string, timestamp: number, body: Uint8Array): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')
}

export type WebhookVerification = { ok: true; timestamp: number } | { ok: false; reason: 'missing' | 'malformed' | 'expired' | 'mismatch' }

export interface VerifyWebhookOptions {
  /** The raw request body bytes, as received (not re-serialized JSON). */
  body: Uint8Array | string
  /** The X-Auditq-Signature header value. */
  header: string | string[] | undefined
  secret: string
  /** Replay window in seconds (default 300). */
  toleranceSeconds?: number
  nowSeconds?: number
}

/**
 * Checks a delivery's signature in constant time. Accepts a header with several `v1=` values
 * (a sender rotating its secret signs with both).
 */
export function verifyWebhook(options: VerifyWebhookOptions): WebhookVerification {
  const header = Array.isArray(options.header) ? options.header[0] : options.header
  if (!header) return { ok: false, reason: 'missing' }
  let timestamp: number | undefined
  const signatures: string[] = []
  for (const part of header.split(',')) {
    const [key, value] = part.trim().split('=', 2)
    if (key === 't' && value && /^\d{1,12}$/.test(value)) timestamp = Number(value)
    else if (key === 'v1' && value && /^[0-9a-f]{64}$/.test(value)) signatures.push(value)
  }
  if (timestamp === undefined || signatures.length === 0) return { ok: false, reason: 'malformed' }
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000)
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return { ok: false, reason: 'expired' }
  const body = typeof options.body === 'string' ? Buffer.from(options.body, 'utf8') : options.body
  const expected = Buffer.from(mac(options.secret, timestamp, body), 'hex')
  const matches = signatures.some((signature) => timingSafeEqual(expected, Buffer.from(signature, 'hex')))
  return matches ? { ok: true, timestamp } : { ok: false, reason: 'mismatch' }
}
