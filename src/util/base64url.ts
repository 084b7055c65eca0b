/**
 * base64url (RFC 4648 §5, unpadded) of UTF-8 text with the web platform's `btoa`/`atob` and
 * TextEncoder, so the same code runs on Node and on Cloudflare Workers (which has no `Buffer`
 * unless a Worker opts into Node compatibility). Produces exactly what
 * `Buffer.from(text).toString('base64url')` produces.
 */
export function encodeBase64Url(text: string): string {
  let binary = ''
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

const BASE64URL = /^[A-Za-z0-9_-]*$/

/** Throws on anything that is not unpadded base64url of valid UTF-8. */
export function decodeBase64Url(encoded: string): string {
  if (!BASE64URL.test(encoded) || encoded.length % 4 === 1) throw new SyntaxError('not base64url')
  const binary = atob(encoded.replace(/-/g, '+').replace(/_/g, '/'))
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0))
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
}
