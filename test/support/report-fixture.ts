import { buildReport, type Report } from '../../src/report/model.js'
import { resolvePeriod } from '../../src/report/period.js'

/** Payloads that must come out of every renderer as inert text. */
export const HOSTILE = {
  script: '<script>window.__pwned = "script"</script>',
  attribute: '"><img src=x onerror="window.__pwned=\'img\'">',
  singleQuote: "'><svg onload=window.__pwned='svg'>",
  formula: '=HYPERLINK("http://evil.example","open")',
  plus: '+cmd|" /C calc"!A0',
  minus: '-2+3',
  at: '@SUM(A1:A9)',
  terminal: 'red\u001b[31mALERT\u001b[0m\rover',
}

/** A small but complete report whose every string field carries a hostile payload. */
export function hostileReport(): Report {
  const period = resolvePeriod({ kind: 'daily', date: '2026-11-20' }, new Date('2026-11-23T00:00:00Z'))
  return buildReport({
    period,
    tenantId: HOSTILE.attribute,
    topN: 10,
    generatedAt: new Date('2026-11-23T00:00:00Z'),
    data: {
      total: 7,
      successes: 4,
      failures: 3,
      by_category: { info: 5, warning: 1, critical: 1 },
      top_actors: [
        { value: HOSTILE.script, count: 3 },
        { value: HOSTILE.formula, count: 2 },
        { value: HOSTILE.terminal, count: 1 },
        { value: null, count: 1 },
      ],
      top_actions: [
        { value: HOSTILE.attribute, count: 4 },
        { value: HOSTILE.plus, count: 3 },
      ],
      top_resource_types: [
        { value: HOSTILE.singleQuote, count: 6 },
        { value: HOSTILE.at, count: 1 },
      ],
      failures_by_action: [
        {
          action: HOSTILE.attribute,
          failures: 3,
          top_errors: [
            { value: HOSTILE.minus, count: 2 },
            { value: null, count: 1 },
          ],
        },
      ],
      timeline: [
        { start: '2026-11-20T09:00:00.000Z', total: 5, failures: 2 },
        { start: '2026-11-20T17:00:00.000Z', total: 2, failures: 1 },
      ],
    },
  })
}
