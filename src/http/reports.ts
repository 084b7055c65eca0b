import type { FastifyInstance } from 'fastify'
import type { Config } from '../config.js'
import { generateReport } from '../report/generate.js'
import { parseReportRequest } from '../report/params.js'
import { CONTENT_TYPES, RENDERERS } from '../report/render/index.js'
import type { Store } from '../store/store.js'
import { BusyGate } from './busy-gate.js'
import { tenantScope } from './principal.js'
import { documented } from './contract/contract.js'
import { reportsContract } from './contract/reads.js'

export interface ReportRouteOptions {
  store: Store
  limits: Config['reports']
  /** The clock, replaceable in tests. */
  now?: () => Date
}

/**
 * The HTML page may hold any stored string; it is escaped, and this policy is the second line:
 * even a missed escape could neither run a script nor load anything.
 */
const HTML_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const REPORT_BUSY_RETRY_SECONDS = 2

/** GET /v1/reports?period=daily|weekly|monthly[&date=YYYY-MM-DD] | from&to [&tenant_id][&top][&format=json|csv|html] */
export async function reportRoutes(app: FastifyInstance, options: ReportRouteOptions): Promise<void> {
  const now = options.now ?? (() => new Date())
  // Each report scans its period once per figure inside one snapshot (1M events: ~1 s of database
  // CPU); without a bound a read key could run enough at once to slow ingest on the same database.
  // Per tenant and for the process (BusyGate): one tenant cannot take every slot, and its 429
  // reflects only its own reports.
  const gate = new BusyGate({
    what: 'report',
    perTenant: options.limits.maxPerTenant,
    global: options.limits.maxConcurrent,
    retryAfterSeconds: REPORT_BUSY_RETRY_SECONDS,
  })
  const contract = reportsContract({ maxTopN: options.limits.maxTopN })
  app.get(contract.url, documented(contract, { trail: 'report' }), async (request, reply) => {
    const parsed = parseReportRequest(request.query as Record<string, unknown>, {
      limits: { defaultTopN: options.limits.defaultTopN, maxTopN: options.limits.maxTopN },
      formats: ['json', 'csv', 'html'],
      defaultFormat: 'json',
    })
    const tenantId = tenantScope(request, parsed.tenantId)
    const report = await gate.run(reply, tenantId, () =>
      generateReport(
        options.store,
        { period: parsed.period, topN: parsed.topN, ...(tenantId !== undefined ? { tenantId } : {}) },
        { now: now(), topErrors: options.limits.topErrorsPerAction, timeoutMs: options.limits.timeoutMs },
      ),
    )
    if (parsed.format === 'json') return report
    const name = `auditq-report-${report.period.kind}-${report.period.from.slice(0, 10)}.${parsed.format}`
    reply.header('content-type', CONTENT_TYPES[parsed.format]).header('x-content-type-options', 'nosniff')
    if (parsed.format === 'csv') reply.header('content-disposition', `attachment; filename="${name}"`)
    else reply.header('content-security-policy', HTML_POLICY).header('content-disposition', `inline; filename="${name}"`)
    return reply.send(RENDERERS[parsed.format](report))
  })
}
