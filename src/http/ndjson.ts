import type { FastifyInstance } from 'fastify'
import type { FieldError } from '../event/types.js'
import { depthMessage, nestsDeeperThan } from './json-depth.js'

/** One NDJSON line: its parsed value, or why it could not be parsed. */
export type NdjsonLine = { ok: true; value: unknown } | { ok: false; errors: FieldError[] }

export class NdjsonBody {
  constructor(readonly lines: NdjsonLine[]) {}
}

/**
 * Parses `application/x-ndjson` line by line. A line that is not JSON, or is over the line limit,
 * is reported at its index like an invalid event — it never rejects its neighbours; so is one that
 * nests deeper than the JSON depth limit. Blank lines
 * are skipped and do not take an index. The body as a whole is bounded by fastify's bodyLimit.
 */
export function registerNdjsonParser(app: FastifyInstance, { maxLineBytes, maxDepth }: { maxLineBytes: number; maxDepth: number }): void {
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_request, body, done) => {
    const lines: NdjsonLine[] = []
    for (const raw of (body as string).split('\n')) {
      const line = raw.trim()
      if (line.length === 0) continue
      const bytes = Buffer.byteLength(line)
      if (bytes > maxLineBytes) {
        lines.push({ ok: false, errors: [{ field: '(line)', rule: 'max_line_bytes', message: `line is ${bytes} bytes; the limit is ${maxLineBytes}` }] })
        continue
      }
      // Checked before parsing, like a JSON body: a deeply nested line is refused without building it.
      if (nestsDeeperThan(line, maxDepth)) {
        lines.push({ ok: false, errors: [{ field: '(line)', rule: 'max_depth', message: depthMessage('line', maxDepth) }] })
        continue
      }
      try {
        lines.push({ ok: true, value: JSON.parse(line) })
      } catch (error) {
        lines.push({ ok: false, errors: [{ field: '(line)', rule: 'json', message: `not valid JSON: ${printable((error as Error).message)}` }] })
      }
    }
    done(null, new NdjsonBody(lines))
  })
}

/** V8 quotes the start of the bad line in its message; an error report must not carry the NUL or control bytes it complains about. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  const escaped = text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).slice(0, 200)
  // Lone surrogates (from the line, or from cutting a pair at 200) become U+FFFD: the report stays valid Unicode.
  return (escaped as string & { toWellFormed(): string }).toWellFormed()
}
