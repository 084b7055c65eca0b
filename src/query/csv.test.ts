import { describe, expect, it } from 'vitest'
import { csvCell, csvHeader, csvRow } from './csv.js'
import { storedEvent } from '../../test/support/events.js'

describe('csv', () => {
  it('quotes separators, quotes and newlines', () => {
    expect(csvCell('a,b')).toBe('"a,b"')
    expect(csvCell('say "hi"')).toBe('"say ""hi"""')
    expect(csvCell('line\nbreak')).toBe('"line\nbreak"')
    expect(csvCell(null)).toBe('')
    expect(csvCell(false)).toBe('false')
  })

  it('neutralizes spreadsheet formulas', () => {
    expect(csvCell('=HYPERLINK("http://evil")')).toBe(`"'=HYPERLINK(""http://evil"")"`)
    expect(csvCell('+1')).toBe("'+1")
    expect(csvCell('-2')).toBe("'-2")
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)")
    // Tab and carriage return are in OWASP's list too: some spreadsheets skip them and read the formula behind.
    expect(csvCell('\t=1+1')).toBe("'\t=1+1")
    expect(csvCell('\r=1+1')).toBe(`"'\r=1+1"`)
    expect(csvCell('=1,2')).toBe(`"'=1,2"`)
    expect(csvCell('a=1')).toBe('a=1')
  })

  it('neutralizes formulas behind leading spaces, line breaks and invisible characters', () => {
    expect(csvCell(' =1+1')).toBe("' =1+1")
    expect(csvCell('\n=2+2')).toBe(`"'\n=2+2"`)
    expect(csvCell('\u00a0\u200b@SUM(A1)')).toBe("'\u00a0\u200b@SUM(A1)")
    expect(csvCell('\uff1d1+1')).toBe("'\uff1d1+1")
    expect(csvCell('  plain text')).toBe('"  plain text"')
  })

  it('writes metadata as JSON and one line per event matching the header', () => {
    const row = csvRow(storedEvent({ metadata: { a: 1 } }))
    expect(row).toContain('"{""a"":1}"')
    expect(row.split(',').length).toBeGreaterThanOrEqual(csvHeader().split(',').length)
  })
})
