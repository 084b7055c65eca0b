import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Config } from '../config.js'
import { AuditqError } from '../errors.js'
import { verifyChains } from '../integrity/verify.js'
import type { Store } from '../store/store.js'
import { BusyGate } from './busy-gate.js'
import { tenantScope } from './principal.js'
import { documented } from './contract/contract.js'
import { integrityContract } from './contract/reads.js'

/**
 * GET /v1/integrity?tenant_id=&from=&to= — recomputes the chain(s) in one snapshot. `read`, not
 * `admin`: a key bound to a tenant may check its own tenant's chain (tenantScope keeps it there);
 * only an unbound key verifies every tenant. `from`/`to` are sequence numbers. Always 200 when the
 * check ran: `intact: false` with `first_break` is the answer, not an error.
 *
 * A verify reads (and hashes) a whole chain, so a read key could otherwise keep the store busy
 * with back-to-back runs: each tenant runs one at a time per process (a second gets 429 with
 * Retry-After instead of queueing behind it), and all tenants together `verifyMaxConcurrent`
 * (beyond that, a neutral 503: see BusyGate). A run whose client hangs up stops: its statement is
 * cancelled on the server and its slot freed, so nobody holds a slot for an answer nobody reads.
 */
export async function integrityRoutes(app: FastifyInstance, options: { store: Store; limits: Pick<Config['reads'], 'verifyMaxConcurrent'> }): Promise<void> {
  const gate = new BusyGate({
    what: 'chain verification',
    perTenant: 1,
    global: options.limits.verifyMaxConcurrent,
    retryAfterSeconds: VERIFY_BUSY_RETRY_SECONDS,
  })
  const contract = integrityContract()
  app.get(contract.url, documented(contract, { trail: 'integrity.verify' }), async (request, reply) => {
    const integrity = options.store.integrity
    if (!integrity) throw new AuditqError('AUDITQ_NOT_FOUND', 'this store keeps no hash chain')
    const raw = request.query as Record<string, unknown>
    const requested = typeof raw.tenant_id === 'string' ? raw.tenant_id : undefined
    const tenant = tenantScope(request, requested)
    const fromSeq = parseSeq(raw.from, 'from')
    const toSeq = parseSeq(raw.to, 'to')
    return gate.run(reply, tenant, async () => {
      const gone = abortWhenClientLeaves(reply)
      try {
        return await verifyChains(options.store.kind, integrity, {
          ...(tenant !== undefined ? { tenant_id: tenant } : {}),
          ...(fromSeq !== undefined ? { fromSeq } : {}),
          ...(toSeq !== undefined ? { toSeq } : {}),
          signal: gone.signal,
        })
      } finally {
        gone.dispose()
      }
    })
  })
}

/**
 * Aborts when the response's connection closes before the response was sent: the client left.
 * (The request's own 'close' fires once a GET's empty body is read, so it cannot tell.)
 */
export function abortWhenClientLeaves(reply: FastifyReply): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController()
  const onClose = () => {
    if (!reply.raw.writableEnded) controller.abort(new AuditqError('AUDITQ_BAD_REQUEST', 'the client closed the connection before the answer was ready'))
  }
  reply.raw.once('close', onClose)
  return { signal: controller.signal, dispose: () => reply.raw.off('close', onClose) }
}

const VERIFY_BUSY_RETRY_SECONDS = 5

export function parseSeq(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined
  const number = typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : NaN
  if (!Number.isSafeInteger(number) || number < 1) {
    const message = `${field} must be a sequence number (a positive integer)`
    throw new AuditqError('AUDITQ_BAD_REQUEST', message, { details: [{ field, rule: 'seq', message }] })
  }
  return number
}
