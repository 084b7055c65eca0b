/**
 * A UUID for an event that arrived without one (legacy OpenAuth producers set none), derived from
 * the queue message id, which stays the same on every redelivery of that message. So a redelivered
 * message stores once, where an AUTOINCREMENT key would store it again on every delivery.
 * SHA-256 of a namespaced id, cut to 128 bits and marked as a UUIDv8 (RFC 9562 custom).
 */
const NAMESPACE = 'auditq:cloudflare-queue-message:'

export async function eventIdForMessage(messageId: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(NAMESPACE + messageId))
  const bytes = new Uint8Array(digest, 0, 16)
  bytes[6] = (bytes[6]! & 0x0f) | 0x80 // version 8
  bytes[8] = (bytes[8]! & 0x3f) | 0x80 // variant 10
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
