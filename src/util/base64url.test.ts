import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeBase64Url, encodeBase64Url } from './base64url.js'

describe('base64url without Buffer', () => {
  it('encodes exactly as Buffer base64url and decodes back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), (text) => {
        const encoded = encodeBase64Url(text)
        expect(encoded).toBe(Buffer.from(text).toString('base64url'))
        expect(decodeBase64Url(encoded)).toBe(text)
      }),
      { numRuns: 2_000 },
    )
  })

  it('refuses text outside the base64url alphabet, impossible lengths and invalid UTF-8', () => {
    for (const bad of ['a+b/', 'ab==', 'a', 'ab c', Buffer.from([0xff, 0xfe]).toString('base64url')]) {
      expect(() => decodeBase64Url(bad), bad).toThrow()
    }
  })
})
