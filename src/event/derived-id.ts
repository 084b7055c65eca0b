/**
 * A UUID for an event that arrived without one, from the first 128 bits of a digest of something
 * stable about where it came from (a queue message id, an old queue's item bytes), marked as
 * version 8 (RFC 9562 "custom"): a redelivered or re-imported item gets the same id, so the store's
 * idempotency on (tenant, id) stores it once. Pure, so the Workers edition shares it.
 */
export function uuidV8FromDigest(digest: Uint8Array): string {
  const bytes = Uint8Array.from(digest.subarray(0, 16))
  bytes[6] = (bytes[6]! & 0x0f) | 0x80 // version 8
  bytes[8] = (bytes[8]! & 0x3f) | 0x80 // RFC 9562 variant
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
