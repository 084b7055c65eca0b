import { describe, expect, it } from 'vitest'
import { HOSTILE, hostileReport } from '../../../test/support/report-fixture.js'
import { renderCsv } from './csv.js'
import { renderHtml } from './html.js'
import { renderJson } from './json.js'
import { renderTable } from './table.js'

describe('report renderers', () => {
  const report = hostileReport()

  it('JSON is the report itself', () => {
    expect(JSON.parse(renderJson(report))).toEqual(report)
  })

  it('CSV: one figure per line, and no cell a spreadsheet would run as a formula', () => {
    const csv = renderCsv(report)
    const lines = csv.trimEnd().split('\r\n')
    expect(lines[0]).toBe('section,name,detail,value')
    expect(lines).toContain('summary,total,,7')
    expect(lines).toContain('summary,success_rate,,0.5714')
    expect(lines).toContain('category,critical,,1')
    expect(lines).toContain('timeline,2026-11-20T09:00:00.000Z,failures,2')
    // Every hostile value is present, prefixed with ' when it starts like a formula.
    expect(csv).toContain(`top_actor,"'=HYPERLINK(""http://evil.example"",""open"")",,2`)
    expect(csv).toContain(`top_action,"'+cmd|"" /C calc""!A0",,3`)
    expect(csv).toContain(`top_resource_type,'@SUM(A1:A9),,1`)
    expect(csv).toContain(`failure_error,"""><img src=x onerror=""window.__pwned='img'"">",'-2+3,2`)
    for (const line of lines.slice(1)) {
      for (const cell of line.match(/(^|,)("(?:[^"]|"")*"|[^,]*)/g)!.map((c) => c.replace(/^,/, '').replace(/^"/, ''))) {
        expect(cell, line).not.toMatch(/^[=+\-@]/)
      }
    }
  })

  it('table: every section, and control characters shown instead of obeyed', () => {
    const table = renderTable(report)
    for (const heading of ['SUMMARY', 'BY CATEGORY', 'TOP ACTORS (top 10)', 'TOP ACTIONS', 'TOP RESOURCE TYPES', 'FAILURES BY ACTION', 'EVENTS PER HOUR']) {
      expect(table).toContain(heading)
    }
    expect(table).toMatch(/success rate\s+57\.14%/)
    expect(table).toMatch(/\(none\)\s+1/)
    expect(table).toMatch(/\(no message\)\s+1/)
    expect(table).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/)
    expect(table).toContain('red\\x1b[31mALERT')
    // 24 hourly buckets, empty ones included.
    expect(table.match(/^ {2}2026-11-20 \d\d:00/gm)).toHaveLength(24)
  })

  it('HTML: self-contained, with every stored string escaped', () => {
    const html = renderHtml(report)
    expect(html).not.toMatch(/<(script|img|svg)/i)
    // No tag carries an event handler or a URL (the payloads' words survive only as escaped text).
    expect(html).not.toMatch(/<[^>]*\s(on\w+|src|href)=/i)
    expect(html).toContain('&lt;script&gt;window.__pwned = &quot;script&quot;&lt;/script&gt;')
    expect(html).toContain('&quot;&gt;&lt;img src=x onerror=&quot;window.__pwned=&#39;img&#39;&quot;&gt;')
    expect(html).toContain(`Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"`)
    expect(html).toContain('@media print')
  })
})
