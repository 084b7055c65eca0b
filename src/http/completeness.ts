import type { FastifyInstance } from 'fastify'
import type { Config } from '../config.js'
import { AuditqError } from '../errors.js'
import { checkCompleteness } from '../completeness/check.js'
import { parseProducer, parseSince } from '../completeness/params.js'
import type { Store } from '../store/store.js'
import { tenantScope } from './principal.js'
import { documented } from './contract/contract.js'
import { COMPLETENESS_CONTRACT } from './contract/proofs.js'

/**
 * GET /v1/completeness?producer_id=&tenant_id=&since= — per producer, the sequence ranges neither
 * stored nor accounted for, `missing` (older than the bound) apart from `in_flight`. `read`: a key
 * bound to a tenant sees its own tenant's events only, so the producers that write only its
 * tenant (a producer writing several tenants is checked only by an unbound key).
 */
export async function completenessRoutes(app: FastifyInstance, options: { store: Store; settings: Config['completeness'] }): Promise<void> {
  app.get(COMPLETENESS_CONTRACT.url, documented(COMPLETENESS_CONTRACT, { trail: 'completeness' }), async (request) => {
    const source = options.store.completeness
    if (!source) throw new AuditqError('AUDITQ_NOT_FOUND', 'this store has no completeness check')
    const raw = request.query as Record<string, unknown>
    const tenant = tenantScope(request, typeof raw.tenant_id === 'string' ? raw.tenant_id : undefined)
    const producer = parseProducer(raw.producer_id, 'producer_id')
    const since = parseSince(raw.since, 'since')
    return checkCompleteness(
      source,
      { ...(tenant !== undefined ? { tenant_id: tenant } : {}), ...(producer !== undefined ? { producer_id: producer } : {}) },
      { inFlightBoundMs: options.settings.inFlightBoundMs, ...(since ? { since } : {}) },
    )
  })
}
