/**
 * The search syntax: words, "quoted phrases" and -exclusions, turned into the same tokens both
 * stores index. The parser never throws anything but AUDITQ_BAD_REQUEST naming `q`, whatever the input.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isAuditqError } from '../../errors.js'
import { MAX_QUERY_CHARS, parseSearch, toFts5, toTsquery, toTsvector } from './syntax.js'
import { tokenize } from './tokens.js'

const refusal = (q: string) => {
  try {
    parseSearch(q)
  } catch (error) {
    return error
  }
  throw new Error(`accepted ${JSON.stringify(q)}`)
}

describe('search syntax', () => {
  it('reads words, phrases and exclusions; punctuation makes a word a phrase of its parts', () => {
    expect(parseSearch('Login  "Password Reset" -bot -"load test" user.login')).toEqual({
      include: [['login'], ['password', 'reset'], ['user', 'login']],
      exclude: [['bot'], ['load', 'test']],
    })
  })

  it('compiles to a tsquery and an FTS5 expression with the same meaning', () => {
    const query = parseSearch('invoice "paid late" -refund')
    expect(toTsquery(query)).toBe("'invoice' & ('paid' <-> 'late') & !'refund'")
    expect(toFts5(query)).toBe('("invoice" AND "paid late") NOT "refund"')
    expect(toTsvector(['a', 'b', 'a'])).toBe("'a':1 'b':2 'a':3")
  })

  it('folds case in any script and encodes tokens that are not plain ASCII so no store tokenizer can split them differently', () => {
    expect(tokenize('ÉCOLE école')).toEqual([tokenize('école')[0], tokenize('école')[0]])
    expect(tokenize('Привет, мир! 東京 x-ray 42')).toEqual([
      'x' + Buffer.from('привет').toString('hex'),
      'x' + Buffer.from('мир').toString('hex'),
      'x' + Buffer.from('東京').toString('hex'),
      'x' + Buffer.from('x').toString('hex'),
      'ray',
      '42',
    ])
    for (const token of tokenize('Ünïcödé 🙂 text_with_underscores ǅ')) expect(token).toMatch(/^[a-z0-9]+$/)
  })

  it.each([
    ['', 'is empty'],
    ['   ', 'is empty'],
    ['"unclosed phrase', 'never closed'],
    ['-', 'must be followed by'],
    ['-word', 'not excluded'],
    ['...', 'no letter or digit'],
    ['"" a', 'no letter or digit'],
    ['x'.repeat(MAX_QUERY_CHARS + 1), 'at most'],
    [Array.from({ length: 17 }, (_, i) => `w${i}`).join(' '), 'more than 16'],
  ])('refuses %j with AUDITQ_BAD_REQUEST naming q', (q, says) => {
    const error = refusal(q)
    expect(error).toMatchObject({ code: 'AUDITQ_BAD_REQUEST', details: [{ field: 'q', rule: 'search_syntax' }] })
    expect((error as Error).message).toMatch(/^q: /)
    expect((error as Error).message).toContain(says)
  })

  it('never throws anything but a clear AUDITQ_BAD_REQUEST on arbitrary input, and what it accepts compiles to plain tokens', () => {
    const alphabet = fc.constantFrom('a', 'B', 'é', '東', '-', '"', ' ', '\t', '.', '_', '0', '\u0000', '🙂', "'", '\\', ':', '&', '!', '(', ')')
    const text = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: alphabet, maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 30 }))
    fc.assert(
      fc.property(text, (q) => {
        try {
          const query = parseSearch(q)
          expect(query.include.length).toBeGreaterThan(0)
          for (const term of [...query.include, ...query.exclude]) for (const token of term) expect(token).toMatch(/^[a-z0-9]+$/)
          // Only quotes and operators the compilers wrote themselves: no input can inject syntax.
          expect(toTsquery(query).replace(/'[a-z0-9]+'/g, '')).toMatch(/^[\s&!()<>-]*$/)
          expect(toFts5(query).replace(/"[a-z0-9 ]+"/g, '')).toMatch(/^[\s()A-Z]*$/)
        } catch (error) {
          if (!isAuditqError(error)) throw error
          expect(error.code).toBe('AUDITQ_BAD_REQUEST')
          expect(error.details).toEqual([expect.objectContaining({ field: 'q', rule: 'search_syntax' })])
        }
      }),
      { numRuns: 2_000 },
    )
  })
})
