import fc from 'fast-check'
import { isIP } from 'node:net'
import { describe, expect, it } from 'vitest'
import { ipVersion } from './ip-syntax.js'

/** Characters that appear in addresses and near-misses of them, so generated strings hit the edges. */
const ADDRESS_CHARS = fc.constantFrom(...'0123456789abcdefABCDEFgG:.%/ -'.split(''))
const groupV6 = fc.stringMatching(/^[0-9a-fA-F]{0,5}$/)
const octet = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.stringMatching(/^0[0-9]{1,2}$/))

const addressLike = fc.oneof(
  fc.string({ unit: ADDRESS_CHARS, maxLength: 45 }),
  fc.array(octet, { minLength: 3, maxLength: 5 }).map((parts) => parts.join('.')),
  fc.array(groupV6, { minLength: 2, maxLength: 9 }).map((groups) => groups.join(':')),
  fc
    .tuple(fc.array(groupV6, { maxLength: 7 }), fc.array(groupV6, { maxLength: 7 }), fc.option(fc.array(octet, { minLength: 4, maxLength: 4 })))
    .map(([head, tail, v4]) => `${head.join(':')}::${tail.join(':')}${v4 ? `${tail.length ? ':' : ''}${v4.join('.')}` : ''}`),
)

describe('ipVersion (runtime-neutral IP syntax)', () => {
  it('answers exactly as node:net isIP on generated address-like text', () => {
    fc.assert(
      fc.property(addressLike, (text) => {
        expect(ipVersion(text)).toBe(isIP(text))
      }),
      { numRuns: 20_000 },
    )
  })

  it('answers exactly as node:net isIP on known edge cases', () => {
    const cases = ['1.2.3.4', '01.2.3.4', '256.1.1.1', '::', ':::', '1::2::3', '::ffff:1.2.3.4', 'fe80::1%eth0', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:1.2.3.4', '', ' 1.2.3.4']
    for (const text of cases) expect(ipVersion(text), text).toBe(isIP(text))
  })
})
