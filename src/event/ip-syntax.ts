/**
 * IP address syntax, without `node:net`, so validation runs unchanged on Cloudflare Workers
 * (workerd has no `node:net` unless a Worker opts into Node compatibility).
 *
 * These are the expressions Node itself uses for `net.isIP` (lib/internal/net.js), rebuilt
 * verbatim so accepting or refusing an address cannot differ between runtimes; `ip-syntax.test.ts`
 * checks the equivalence against `node:net` on generated input. Node also runs a regular
 * expression, so the Node hot path costs the same as before.
 */
const V4_SEG = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])'
const V4_STR = `(?:${V4_SEG}\\.){3}${V4_SEG}`
const V6_SEG = '(?:[0-9a-fA-F]{1,4})'

const IPV4 = new RegExp(`^${V4_STR}$`)
const IPV6 = new RegExp(
  '^(?:' +
    `(?:${V6_SEG}:){7}(?:${V6_SEG}|:)|` +
    `(?:${V6_SEG}:){6}(?:${V4_STR}|:${V6_SEG}|:)|` +
    `(?:${V6_SEG}:){5}(?::${V4_STR}|(?::${V6_SEG}){1,2}|:)|` +
    `(?:${V6_SEG}:){4}(?:(?::${V6_SEG}){0,1}:${V4_STR}|(?::${V6_SEG}){1,3}|:)|` +
    `(?:${V6_SEG}:){3}(?:(?::${V6_SEG}){0,2}:${V4_STR}|(?::${V6_SEG}){1,4}|:)|` +
    `(?:${V6_SEG}:){2}(?:(?::${V6_SEG}){0,3}:${V4_STR}|(?::${V6_SEG}){1,5}|:)|` +
    `(?:${V6_SEG}:){1}(?:(?::${V6_SEG}){0,4}:${V4_STR}|(?::${V6_SEG}){1,6}|:)|` +
    `(?::(?:(?::${V6_SEG}){0,5}:${V4_STR}|(?::${V6_SEG}){1,7}|:))` +
    ')(?:%[0-9a-zA-Z-.:]{1,})?$',
)

/** 4 or 6 for a well-formed address (as `net.isIP` answers), 0 otherwise. */
export function ipVersion(text: string): 0 | 4 | 6 {
  if (IPV4.test(text)) return 4
  if (IPV6.test(text)) return 6
  return 0
}
