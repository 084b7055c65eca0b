import type { FastifyInstance } from 'fastify'
import { AuditqError } from '../errors.js'

const OPEN_BRACKET = 0x5b // [
const OPEN_BRACE = 0x7b // {
const CLOSE_BRACKET = 0x5d // ]
const CLOSE_BRACE = 0x7d // }
const QUOTE = 0x22 // "
const BACKSLASH = 0x5c // \

/**
 * True when JSON text nests arrays and objects more than `maxDepth` deep. One pass over the text
 * counting `[` `{` against `]` `}` outside strings, stopping at the first level past the limit, so
 * a hostile `[[[[…` costs a few dozen characters of scanning rather than a parse that builds
 * millions of nested arrays on the event loop. Malformed text is left for JSON.parse to refuse.
 */
export function nestsDeeperThan(text: string, maxDepth: number): boolean {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      // Skip the string (indexOf is far faster than a loop over long text): its end is the next
      // quote not escaped by an odd run of backslashes.
      let end = text.indexOf('"', i + 1)
      while (end !== -1 && escaped(text, end)) end = text.indexOf('"', end + 1)
      if (end === -1) return false
      i = end
    } else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > maxDepth) return true
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) {
      depth--
    }
  }
  return false
}

function escaped(text: string, quoteAt: number): boolean {
  let backslashes = 0
  while (text.charCodeAt(quoteAt - 1 - backslashes) === BACKSLASH) backslashes++
  return backslashes % 2 === 1
}

export function depthMessage(what: string, maxDepth: number): string {
  return `${what} nests arrays and objects more than ${maxDepth} levels deep; the limit is ${maxDepth} (max_depth)`
}

/**
 * Replaces fastify's JSON body parser with one that refuses excessive nesting before parsing
 * (400 `AUDITQ_VALIDATION`, rule `max_depth`), then parses with fastify's own parser so its
 * prototype-poisoning protection stays. No legitimate body comes near the limit: an event's
 * metadata may nest 8 levels, inside at most three levels of envelope.
 */
export function registerJsonParser(app: FastifyInstance, options: { maxDepth: number }): void {
  const parse = app.getDefaultJsonParser('error', 'error')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (nestsDeeperThan(body as string, options.maxDepth)) {
      const message = depthMessage('the request body', options.maxDepth)
      // `rejected` is empty like any ingest refusal that is about the body, not one event in it.
      done(new AuditqError('AUDITQ_VALIDATION', message, { details: { rejected: [], errors: [{ field: '(body)', rule: 'max_depth', message }] } }), undefined)
      return
    }
    parse(request, body as string, done)
  })
}
