/**
 * The one tokenizer both stores index with and every query is split with, so PostgreSQL and SQLite
 * see the same tokens and answer the same. Text is lower-cased (Unicode, in JS) and split on
 * anything that is not a letter or digit. Each store then only stores these tokens as they are:
 * PostgreSQL gets a tsvector literal (no text-search parser, no dictionary), SQLite FTS5 gets them
 * space-separated; both only ever see [a-z0-9] tokens, where their tokenizers cannot disagree.
 */

/** Longest token kept, in characters: longer runs are cut (PostgreSQL refuses lexemes over 2 KiB). */
export const MAX_TOKEN_CHARS = 100
/** Most tokens one event contributes: PostgreSQL keeps positions up to 16,383 only. */
export const MAX_DOCUMENT_TOKENS = 16_000

const SEPARATOR = /[^\p{L}\p{N}]+/u
const PLAIN = /^[a-wyz0-9][a-z0-9]*$/

/** The tokens of a text, in order. */
export function tokenize(text: string): string[] {
  const tokens: string[] = []
  for (const part of text.toLowerCase().split(SEPARATOR)) {
    if (part === '') continue
    tokens.push(encodeToken(part))
  }
  return tokens
}

/**
 * Plain ASCII tokens are kept; any other (non-ASCII letters, or one that starts with `x`) becomes
 * `x` + the hex of its UTF-8 bytes. Injective: only encoded tokens start with `x`.
 */
function encodeToken(token: string): string {
  // At most MAX_TOKEN_CHARS UTF-16 units is at most that many characters: no cut, and no array of
  // characters built for every token of every event.
  const cut = token.length <= MAX_TOKEN_CHARS ? token : Array.from(token).slice(0, MAX_TOKEN_CHARS).join('')
  return PLAIN.test(cut) ? cut : 'x' + Buffer.from(cut, 'utf8').toString('hex')
}
