/** Reading the repository's Markdown for the documentation tests: which files, their links, their headings. */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export const ROOT = join(import.meta.dirname, '..', '..')

/** README.md, BENCHMARKS.md and every docs/*.md, as paths relative to the repository root. */
export function documentationFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`)
  return ['README.md', 'BENCHMARKS.md', ...docs.sort()]
}

export function read(file: string): string {
  return readFileSync(join(ROOT, file), 'utf8')
}

/** The text outside fenced code blocks: a `[x](y)` inside a shell example is not a link. */
export function prose(markdown: string): string {
  let inFence = false
  return markdown
    .split('\n')
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        inFence = !inFence
        return ''
      }
      return inFence ? '' : line
    })
    .join('\n')
}

export interface Link {
  line: number
  target: string
}

/** Inline links and images, `[text](target)` and `![alt](target)`, outside code. */
export function links(markdown: string): Link[] {
  const found: Link[] = []
  prose(markdown)
    .split('\n')
    .forEach((text, index) => {
      const withoutCode = text.replace(/`[^`]*`/g, '')
      for (const match of withoutCode.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)) found.push({ line: index + 1, target: match[1]! })
    })
  return found
}

/** The anchors a Git host generates for the headings: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>()
  const result = new Set<string>()
  for (const line of prose(markdown).split('\n')) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (!heading) continue
    const slug = heading[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    result.add(count === 0 ? slug : `${slug}-${count}`)
  }
  return result
}
