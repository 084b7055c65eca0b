import { uuidV8FromDigest } from '../event/derived-id.js'

/**
 * A UUID for an event that arrived without one (legacy OpenAuth producers set none), derived from
 * the queue message id, which stays the same on every redelivery of that message. So a redelivered
 * message stores once, where an AUTOINCREMENT key would store it again on every delivery.
 * SHA-256 of a namespaced id (`uuidV8FromDigest`).
 */
const NAMESPACE = 'auditq:cloudflare-queue-message:'

export async function eventIdForMessage(messageId: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(NAMESPACE + messageId))
  return uuidV8FromDigest(new Uint8Array(digest))
}
