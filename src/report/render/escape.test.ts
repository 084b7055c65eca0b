import { describe, expect, it } from 'vitest'
import { escapeHtml } from './escape.js'

describe('escapeHtml', () => {
  it('escapes the five characters that matter in text and quoted attributes', () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;')
  })

  it('cannot close a double- or single-quoted attribute', () => {
    for (const payload of ['"><img src=x onerror=alert(1)>', "'><img src=x onerror=alert(1)>", '" onmouseover="alert(1)']) {
      const escaped = escapeHtml(payload)
      expect(escaped).not.toMatch(/["'<>]/)
      // In an attribute, the escaped value stays one value: nothing after it becomes markup.
      expect(`<td title="${escaped}">`.match(/"/g)).toHaveLength(2)
      expect(`<td title='${escaped}'>`.match(/'/g)).toHaveLength(2)
    }
  })

  it('leaves ordinary text, Unicode included, unchanged', () => {
    expect(escapeHtml('user-42 · Ünïcödé ✓ 😀')).toBe('user-42 · Ünïcödé ✓ 😀')
  })
})
