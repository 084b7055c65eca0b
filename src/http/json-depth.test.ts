import { describe, expect, it } from 'vitest'
import { nestsDeeperThan } from './json-depth.js'

describe('nestsDeeperThan', () => {
  it('counts arrays and objects outside strings, and stops at the first level past the limit', () => {
    expect(nestsDeeperThan('[[[]]]', 3)).toBe(false)
    expect(nestsDeeperThan('[[[[]]]]', 3)).toBe(true)
    expect(nestsDeeperThan('{"a":{"b":[{}]}}', 4)).toBe(false)
    expect(nestsDeeperThan('{"a":{"b":[{}]}}', 3)).toBe(true)
    expect(nestsDeeperThan('[[],[],[],[]]', 2)).toBe(false) // siblings do not add up
    expect(nestsDeeperThan('[' + 'x'.repeat(10) + '[[[[', 3)).toBe(true) // malformed: refused anyway, cheaply
  })

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(nestsDeeperThan('{"a":"[[[[{{{{"}', 1)).toBe(false)
    expect(nestsDeeperThan('{"a":"\\"[[[[\\""}', 1)).toBe(false)
    expect(nestsDeeperThan('{"a":"\\\\"}', 1)).toBe(false) // an escaped backslash does not escape the quote
    expect(nestsDeeperThan('{"a":"\\\\","b":[[]]}', 2)).toBe(true)
    expect(nestsDeeperThan('["unterminated [[[[', 1)).toBe(false) // left for JSON.parse to refuse
  })
})
