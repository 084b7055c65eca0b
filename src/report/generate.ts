/**
 * Resolves a report request against a store: the period, one `store.report()` call (one
 * consistent snapshot, see each store), and the pure assembly in `buildReport`.
 */
import { AuditqError } from '../errors.js'
import type { EventFilter } from '../query/event-filter.js'
import { buildReport, type Report, type ReportData, type ReportOptions } from './model.js'
import type { ReportRequest } from './params.js'
import { resolvePeriod } from './period.js'

/**
 * The store as a report reads it. `Store` satisfies it; naming only this much keeps the report
 * folder free of the store folder, whose adapters build `ReportData` from this folder's model.
 */
export interface ReportSource {
  report(filter: EventFilter, options: ReportOptions): Promise<ReportData>
  /** `transient`: unreachable or busy, the same request may succeed later (see `StoreErrorKind`). */
  classifyError(error: unknown): 'transient' | 'data'
}

export interface GenerateOptions {
  /** The clock: resolves a default date and says whether the period is complete. */
  now: Date
  topErrors: number
  timeoutMs?: number
}

export async function generateReport(store: ReportSource, request: Omit<ReportRequest, 'format'>, options: GenerateOptions): Promise<Report> {
  const period = resolvePeriod(request.period, options.now)
  const filter: EventFilter = {
    from: period.from,
    to: period.to,
    ...(request.tenantId !== undefined ? { tenant_id: request.tenantId } : {}),
  }
  const reportOptions = {
    topN: request.topN,
    topErrors: options.topErrors,
    bucket: period.bucket,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  }
  const data = await store.report(filter, reportOptions).catch((error: unknown) => {
    // An unreachable or busy store is the caller's to retry (503), not an internal fault (500).
    if (store.classifyError(error) === 'transient') {
      throw new AuditqError('AUDITQ_STORE_UNAVAILABLE', 'the store did not answer the report (unreachable, busy, or over reports.timeoutMs); retry later', { cause: error })
    }
    throw error
  })
  return buildReport({ period, data, tenantId: request.tenantId, topN: request.topN, generatedAt: options.now })
}
