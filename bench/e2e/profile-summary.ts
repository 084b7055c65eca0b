/**
 * Where the CPU went, from the .cpuprofile files `npm run bench -- --cpu-prof-dir DIR` leaves:
 * self time grouped by owner (auditq's own directories, each npm package, Node internals, V8's
 * garbage collector, idle) and the hottest functions, per process.
 *
 *   node dist-bench/bench/e2e/profile-summary.js DIR [--top 12]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { parseArgs } from 'node:util'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '12' } } })
const root = positionals[0]
if (!root) throw new Error('usage: profile-summary DIR [--top N]')
const top = Number(values.top)

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : name.endsWith('.cpuprofile') ? [path] : []
  })
}

/** Who owns a frame: an auditq directory, an npm package, Node itself, or V8's pseudo-frames. */
export function owner(frame: ProfileNode['callFrame']): string {
  const { functionName, url } = frame
  if (functionName === '(idle)') return '(idle)'
  if (functionName === '(garbage collector)') return '(gc)'
  if (functionName === '(program)') return '(program: V8/native, unattributed)'
  if (url === '') return `(builtin) ${functionName || 'anonymous'}`
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (pkg) return pkg[1]!
  const own = /\/(?:dist|dist-bench\/src)\/([^/]+)\//.exec(url)
  if (own) return `auditq src/${own[1]}`
  if (/\/dist-bench\/bench\//.test(url)) return 'bench harness'
  if (url.startsWith('node:')) {
    const mod = /^node:(?:internal\/)?([^/]+)/.exec(url)?.[1] ?? url
    return `node:${mod}`
  }
  return url
}

for (const file of files(root).sort()) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const self = new Map<number, number>()
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  let total = 0
  const owners = new Map<string, number>()
  const functions = new Map<string, number>()
  for (const [id, us] of self) {
    const node = byId.get(id)!
    total += us
    const who = owner(node.callFrame)
    owners.set(who, (owners.get(who) ?? 0) + us)
    if (who === '(idle)') continue
    const { functionName, url, lineNumber } = node.callFrame
    const name = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*\/(node_modules|dist|dist-bench)\//, '$1/')}:${lineNumber + 1}` : ''}`.trim()
    functions.set(name, (functions.get(name) ?? 0) + us)
  }
  const idle = owners.get('(idle)') ?? 0
  const busy = total - idle
  const share = (us: number) => `${((us / total) * 100).toFixed(1)} %`
  process.stdout.write(`\n## ${relative(root, file)}: ${(total / 1e6).toFixed(2)} s sampled, ${share(busy)} busy\n\n`)
  process.stdout.write('| owner (self time) | of samples | of busy |\n| --- | --- | --- |\n')
  for (const [who, us] of [...owners].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`| ${who} | ${share(us)} | ${who === '(idle)' ? '' : `${((us / busy) * 100).toFixed(1)} %`} |\n`)
  }
  process.stdout.write('\n| hottest functions (self) | of busy |\n| --- | --- |\n')
  for (const [name, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`| ${name.replace(/\|/g, '\\|')} | ${((us / busy) * 100).toFixed(1)} % |\n`)
  }
}
