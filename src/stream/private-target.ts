import { isIP } from 'node:net'

/**
 * Is this host a name or literal address of the service's own machine or private network? A
 * tenant's key may not point a stream there: the service would send requests on the tenant's
 * behalf into networks the tenant cannot reach (and show the start of the answer in the stream's
 * last error). Names that resolve to private addresses are not caught here; operators who need
 * such receivers create the stream with an admin key or the CLI.
 */
export function isPrivateTarget(host: string): boolean {
  const name = host.replace(/^\[|\]$/g, '').toLowerCase()
  if (name === 'localhost' || name.endsWith('.localhost') || name.endsWith('.local') || name.endsWith('.internal')) return true
  const family = isIP(name)
  if (family === 4) return privateV4(name)
  if (family === 6) {
    if (name === '::1' || name === '::') return true
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(name)
    if (mapped) return privateV4(mapped[1]!)
    return /^f[cd]/.test(name) || /^fe[89ab]/.test(name)
  }
  return false
}

function privateV4(address: string): boolean {
  const [a, b] = address.split('.').map(Number) as [number, number]
  return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127)
}
