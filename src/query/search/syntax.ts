/**
 * The search syntax, the same for every store: words (all must match), "quoted phrases" (the
 * words next to each other, in order), and `-word` / `-"phrase"` to exclude. A word holding
 * punctuation (`user.login`, `inv-1001`) is the phrase of its parts. Pure; never throws anything
 * but an AUDITQ_BAD_REQUEST that names `q`.
 */
import { AuditqError } from '../../errors.js'
import { tokenize } from './tokens.js'

/** A term is a token sequence: one token is a word, several a phrase. */
export interface SearchQuery {
  include: string[][]
  exclude: string[][]
}

export const MAX_QUERY_CHARS = 512
export const MAX_TERMS = 16

export function parseSearch(q: string, field = 'q'): SearchQuery {
  const fail = (message: string) => new AuditqError('AUDITQ_BAD_REQUEST', `${field}: ${message}`, { details: [{ field, rule: 'search_syntax', message }] })
  if (typeof q !== 'string') throw fail('must be a string')
  if (q.length > MAX_QUERY_CHARS) throw fail(`must be at most ${MAX_QUERY_CHARS} characters`)
  const query: SearchQuery = { include: [], exclude: [] }
  let i = 0
  while (i < q.length) {
    if (/\s/.test(q[i]!)) {
      i++
      continue
    }
    const negated = q[i] === '-'
    if (negated) i++
    let text: string
    let shown: string
    if (q[i] === '"') {
      const end = q.indexOf('"', i + 1)
      if (end < 0) throw fail(`the quote at position ${i + 1} is never closed`)
      text = q.slice(i + 1, end)
      shown = q.slice(i, end + 1)
      i = end + 1
    } else {
      let end = i
      while (end < q.length && !/\s/.test(q[end]!) && q[end] !== '"') end++
      text = q.slice(i, end)
      shown = text
      i = end
    }
    if (negated && shown === '') throw fail('"-" must be followed by a word or a "quoted phrase" to exclude')
    const tokens = tokenize(text)
    if (tokens.length === 0) throw fail(`${JSON.stringify(shown.slice(0, 40))} holds no letter or digit to search for`)
    ;(negated ? query.exclude : query.include).push(tokens)
  }
  if (query.include.length === 0) throw fail(q.trim() === '' ? 'is empty; give at least one word' : 'needs at least one word that is not excluded')
  if (query.include.length + query.exclude.length > MAX_TERMS) throw fail(`has more than ${MAX_TERMS} words and phrases`)
  return query
}

/** The PostgreSQL tsquery literal: tokens are [a-z0-9] only, so quoting needs no escapes. */
export function toTsquery(query: SearchQuery): string {
  const term = (tokens: string[]) => (tokens.length === 1 ? `'${tokens[0]}'` : `(${tokens.map((token) => `'${token}'`).join(' <-> ')})`)
  return [...query.include.map(term), ...query.exclude.map((tokens) => `!${term(tokens)}`)].join(' & ')
}

/** The SQLite FTS5 MATCH expression with the same meaning. */
export function toFts5(query: SearchQuery): string {
  const term = (tokens: string[]) => `"${tokens.join(' ')}"`
  return `(${query.include.map(term).join(' AND ')})${query.exclude.map((tokens) => ` NOT ${term(tokens)}`).join('')}`
}

/** The tsvector literal of a token list, positions from 1: no parser or dictionary touches it. */
export function toTsvector(tokens: readonly string[]): string {
  return tokens.map((token, index) => `'${token}':${index + 1}`).join(' ')
}
