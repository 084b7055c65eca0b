import { describe, expect, it } from 'vitest'
import { isAuditqError } from '../errors.js'
import { parseReportRequest } from './params.js'

const OPTIONS = { limits: { defaultTopN: 10, maxTopN: 100 }, formats: ['json', 'csv', 'html'] as const, defaultFormat: 'json' as const }

function fieldsRefused(raw: Record<string, unknown>): string[] {
  try {
    parseReportRequest(raw, OPTIONS)
  } catch (error) {
    if (isAuditqError(error) && error.code === 'AUDITQ_BAD_REQUEST') return (error.details as { field: string; rule: string }[]).map((e) => `${e.field}:${e.rule}`)
    throw error
  }
  return []
}

describe('report parameters', () => {
  it('reads a named period, or a from/to range, with defaults', () => {
    expect(parseReportRequest({ period: 'weekly', date: '2026-11-23' }, OPTIONS)).toEqual({ period: { kind: 'weekly', date: '2026-11-23' }, topN: 10, format: 'json' })
    expect(parseReportRequest({ from: '2026-11-01', to: '1764547200000', tenant_id: 'acme', top: '25', format: 'csv' }, OPTIONS)).toEqual({
      period: { kind: 'custom', from: '2026-11-01T00:00:00.000Z', to: '2025-12-01T00:00:00.000Z' },
      tenantId: 'acme',
      topN: 25,
      format: 'csv',
    })
  })

  it('refuses every problem at once, naming the field and the rule', () => {
    expect(fieldsRefused({ period: 'yearly', top: '0', format: 'pdf', actor: 'x' })).toEqual(['actor:unknown_parameter', 'period:enum', 'top:range', 'format:enum'])
    expect(fieldsRefused({ period: 'daily', from: '2026-01-01' })).toEqual(['from:exclusive'])
    expect(fieldsRefused({ date: '2026-01-01' })).toEqual(['date:requires'])
    expect(fieldsRefused({})).toEqual(['period:required'])
    expect(fieldsRefused({ from: '2026-01-01' })).toEqual(['to:required'])
    expect(fieldsRefused({ from: 'yesterday', to: '2026-01-01' })).toEqual(['from:timestamp'])
    expect(fieldsRefused({ period: 'daily', top: '101' })).toEqual(['top:range'])
    expect(fieldsRefused({ period: 'daily', tenant_id: '' })).toEqual(['tenant_id:length'])
    expect(fieldsRefused({ period: ['daily', 'weekly'] })).toEqual(['period:single_value'])
    // A format this caller does not offer (the terminal table is CLI-only here).
    expect(fieldsRefused({ period: 'daily', format: 'table' })).toEqual(['format:enum'])
  })
})
