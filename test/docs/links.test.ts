/**
 * The README and docs/ link to each other with relative paths (they ship together in the package),
 * so a page moved or a heading renamed must not leave a dead link behind.
 */
import { existsSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import { describe, expect, it } from 'vitest'
import { anchors, documentationFiles, links, read, ROOT } from './markdown.js'

describe('documentation links', () => {
  it('points every relative link in README.md, BENCHMARKS.md and docs/*.md at a file and heading that exist', () => {
    const dead: string[] = []
    let checked = 0
    for (const file of documentationFiles()) {
      for (const { line, target } of links(read(file))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // https:, mailto: — not ours to check offline
        checked += 1
        const [path = '', anchor] = target.split('#')
        const resolved = path === '' ? file : normalize(join(dirname(file), decodeURI(path)))
        if (resolved.startsWith('..') || !existsSync(join(ROOT, resolved))) {
          dead.push(`${file}:${line}: ${target} (no file ${resolved})`)
          continue
        }
        if (anchor && resolved.endsWith('.md') && !anchors(read(resolved)).has(anchor)) {
          dead.push(`${file}:${line}: ${target} (no heading #${anchor} in ${resolved})`)
        }
      }
    }
    expect(checked).toBeGreaterThan(50)
    expect(dead).toEqual([])
  })

  it('reads anchors the way a Git host writes them', () => {
    expect([...anchors('# Queue mode (Redis Streams)\n## Canonical serialization (`auditq.v1`)\n## A\n## A\n')]).toEqual([
      'queue-mode-redis-streams',
      'canonical-serialization-auditqv1',
      'a',
      'a-1',
    ])
  })
})
