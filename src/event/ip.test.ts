import pg from 'pg'
import { beforeAll, describe, expect, it } from 'vitest'
import { POSTGRES_URL, postgresAvailable } from '../../test/support/services.js'
import { normalizeIpAddress } from './ip.js'

/** Spellings that trip naive formatters: case, leading zeros, zero runs, embedded IPv4, edges. */
const TRICKY = [
  '0.0.0.0',
  '255.255.255.255',
  '192.0.2.1',
  '::',
  '::1',
  '::2',
  '1::',
  '2001:DB8::1',
  '2001:0db8:0000:0000:0000:0000:0000:0001',
  '2001:db8:0:1:1:1:1:1', // a single zero word is not compressed
  '2001:db8:0:0:1:0:0:1', // two equal runs: the first one is compressed
  '2001:0:0:1:0:0:0:1', // the longer, later run wins
  '0:0:1:0:0:0:0:0',
  'fe80::1:2:3:4',
  'FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF',
  '::192.0.2.1', // IPv4-compatible (deprecated): PostgreSQL keeps the dotted form
  '::0.1.0.0',
  '::0:1',
  '64:ff9b::192.0.2.1', // NAT64: printed in hex
  '::ffff:0:0', // IPv4-mapped 0.0.0.0
  '::ffff:192.0.2.1',
  '::FFFF:C000:0201',
  '0:0:0:0:0:ffff:192.0.2.1',
]

/** Random addresses with many zero and 0xffff words, written in mixed case and with padding. */
function randomAddresses(count: number): string[] {
  const word = () => {
    const r = Math.random()
    const value = r < 0.55 ? 0 : r < 0.65 ? 0xffff : r < 0.7 ? 1 : Math.floor(Math.random() * 0x10000)
    const hex = value.toString(16)
    return Math.random() < 0.5 ? hex.toUpperCase().padStart(4, '0') : hex
  }
  return Array.from({ length: count }, () => Array.from({ length: 8 }, word).join(':'))
}

const isMapped = (postgresText: string) => /^::ffff:\d+\.\d+\.\d+\.\d+$/.test(postgresText)

describe('normalizeIpAddress', () => {
  it.each([
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::ffff:c000:201', '192.0.2.1'],
    ['64:ff9b::c000:201', '64:ff9b::c000:201'],
    ['::192.0.2.1', '::192.0.2.1'],
  ])('writes %s as %s', (input, expected) => {
    expect(normalizeIpAddress(input)).toBe(expected)
  })

  it.each(['fe80::1%eth0', '192.0.2.1%1', '10.0.0.0/8', '2001:db8::/32', '192.0.2.1/32', '1.2.3', '01.2.3.4', '', 'example.com'])(
    'refuses %j',
    (input) => {
      expect(normalizeIpAddress(input)).toBeNull()
    },
  )
})

describe('normalizeIpAddress agrees with PostgreSQL inet', () => {
  let client: pg.Client | undefined

  beforeAll(async () => {
    // Locally a missing server skips these tests; with CI=true postgresAvailable throws, so they fail.
    if (!(await postgresAvailable())) return
    client = new pg.Client({ connectionString: POSTGRES_URL })
    await client.connect()
    return async () => {
      await client?.end()
    }
  })

  /** PostgreSQL's renderings of each address: inet output (what `pg` returns), host(), and ::text. */
  async function postgresTexts(addresses: string[]): Promise<Array<{ a: string; out: string; host: string; text: string }>> {
    const result = await client!.query<{ a: string; out: string; host: string; text: string }>(
      'select a, a::inet as out, host(a::inet) as host, a::inet::text as text from unnest($1::text[]) with ordinality as t(a, n) order by n',
      [addresses],
    )
    return result.rows
  }

  it('for tricky spellings: same text as inet output and host(), and ::text adds only the /32 or /128', async (ctx) => {
    if (!client) return ctx.skip('PostgreSQL is not reachable (set CI=true to make this a failure)')
    const rows = await postgresTexts(TRICKY)
    for (const row of rows) {
      const ours = normalizeIpAddress(row.a)
      const expected = isMapped(row.out) ? row.out.slice('::ffff:'.length) : row.out
      expect({ address: row.a, ours }).toEqual({ address: row.a, ours: expected })
      expect(row.host).toBe(row.out)
      expect(row.text).toBe(`${row.out}/${row.out.includes(':') ? 128 : 32}`)
    }
  })

  it('for 5,000 random IPv6 addresses', async (ctx) => {
    if (!client) return ctx.skip('PostgreSQL is not reachable (set CI=true to make this a failure)')
    const rows = await postgresTexts(randomAddresses(5000))
    const disagreements = rows
      .map((row) => ({ address: row.a, postgres: row.out, ours: normalizeIpAddress(row.a) }))
      .filter((row) => (isMapped(row.postgres) ? row.postgres.slice(7) : row.postgres) !== row.ours)
    expect(disagreements).toEqual([])
  })

  it('is a fixed point: PostgreSQL prints every stored address back unchanged (mapped ones included)', async (ctx) => {
    if (!client) return ctx.skip('PostgreSQL is not reachable (set CI=true to make this a failure)')
    const stored = [...TRICKY, ...randomAddresses(1000)].map((a) => normalizeIpAddress(a)!)
    const rows = await postgresTexts(stored)
    expect(rows.filter((row) => row.out !== row.a)).toEqual([])
  })
})
