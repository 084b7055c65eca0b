import { ipVersion } from './ip-syntax.js'

/**
 * Canonical text of an IP address: exactly what PostgreSQL's `inet` output prints for it
 * (`host($1::inet)`, the value `pg` returns for an `inet` column), so the embedded store and
 * PostgreSQL hand back identical strings. Returns null when the text is not a single IPv4 or
 * IPv6 host address.
 *
 * Decisions:
 * - IPv4-mapped IPv6 (`::ffff:192.0.2.1`, any spelling) becomes the IPv4 address `192.0.2.1`.
 *   Dual-stack sockets report every IPv4 peer that way, and a search for `192.0.2.1` must find
 *   those events. PostgreSQL keeps the mapped form, so we store the unmapped text on both sides.
 * - Zone ids (`fe80::1%eth0`) are refused: they name an interface of the sending host, mean
 *   nothing to a reader of the audit trail, and `inet` rejects them.
 * - CIDR suffixes (`/64`) are refused: an event comes from one address, not a network.
 * - IPv4 needs no rewriting: `ipVersion` (Node's `isIP`) already refuses leading zeros, so accepted IPv4 text is
 *   canonical as sent.
 */
export function normalizeIpAddress(text: string): string | null {
  if (text.includes('%') || text.includes('/')) return null
  const version = ipVersion(text)
  if (version === 4) return text
  if (version !== 6) return null
  const words = parseIpv6(text)
  return isIpv4Mapped(words) ? ipv4FromWords(words[6]!, words[7]!) : formatIpv6LikePostgres(words)
}

/**
 * The network an address belongs to — IPv4 /24 (`192.0.2.77` → `192.0.2.0`), IPv6 /48
 * (`2001:db8:1:2::5` → `2001:db8:1::`) — for deployments that treat a full address as personal
 * data. Takes and returns canonical text (`normalizeIpAddress` output), so the result is stored
 * and read back unchanged by both stores.
 */
export function truncateIpAddress(canonical: string): string {
  if (ipVersion(canonical) === 4) return canonical.replace(/\.\d+$/, '.0')
  const words = parseIpv6(canonical)
  return formatIpv6LikePostgres([words[0]!, words[1]!, words[2]!, 0, 0, 0, 0, 0])
}

/** Eight 16-bit words; the input has already been accepted by `ipVersion`, so it is well-formed. */
function parseIpv6(text: string): number[] {
  const [headText = '', tailText] = text.split('::')
  const head = groupsToWords(headText)
  if (tailText === undefined) return head
  const tail = groupsToWords(tailText)
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail]
}

function groupsToWords(text: string): number[] {
  if (text === '') return []
  const words: number[] = []
  for (const group of text.split(':')) {
    if (group.includes('.')) {
      const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number)
      words.push((a << 8) | b, (c << 8) | d)
    } else {
      words.push(parseInt(group, 16))
    }
  }
  return words
}

function isIpv4Mapped(words: number[]): boolean {
  return words.slice(0, 5).every((word) => word === 0) && words[5] === 0xffff
}

function ipv4FromWords(high: number, low: number): string {
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`
}

/**
 * A port of PostgreSQL's `inet_net_ntop_ipv6` (src/backend/utils/adt/inet_net_ntop.c): the first
 * longest run of two or more zero words becomes `::`, words print in lowercase hex without
 * leading zeros, and an address whose first 96 bits are zero (IPv4-compatible) or that is
 * IPv4-mapped prints its last 32 bits as a dotted quad. It differs from RFC 5952 only in those
 * IPv4-compatible addresses, which is why we port it rather than use a generic formatter.
 */
function formatIpv6LikePostgres(words: number[]): string {
  const best = longestZeroRun(words)
  let out = ''
  for (let i = 0; i < 8; i++) {
    if (best.len >= 2 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) out += ':'
      continue
    }
    if (i !== 0) out += ':'
    if (i === 6 && best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff))) {
      return out + ipv4FromWords(words[6]!, words[7]!)
    }
    out += words[i]!.toString(16)
  }
  if (best.len >= 2 && best.base + best.len === 8) out += ':'
  return out
}

function longestZeroRun(words: number[]): { base: number; len: number } {
  let best = { base: -1, len: 0 }
  let cur = { base: -1, len: 0 }
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      cur = cur.base === -1 ? { base: i, len: 1 } : { base: cur.base, len: cur.len + 1 }
      if (cur.len > best.len) best = cur
    } else {
      cur = { base: -1, len: 0 }
    }
  }
  return best
}
