/**
 * GET /v1/events/:id/proof — the event's Merkle inclusion proof to its tenant's newest checkpoint
 * with a tree; and the proof-bundle body of GET /v1/events/export?proof=true. Both read through
 * `tenantScope`: a key bound to tenant A gets 404 for B's event and a bundle of A's events only.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Readable } from 'node:stream'
import { AuditqError } from '../errors.js'
import { bundleLines, eventProof } from '../integrity/proofs.js'
import { badRequest } from '../query/filter.js'
import type { EventFilter } from '../query/event-filter.js'
import type { Store } from '../store/store.js'
import { tenantScope } from './principal.js'
import { documented } from './contract/contract.js'
import { PROOF_CONTRACT } from './contract/proofs.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export async function proofRoutes(app: FastifyInstance, options: { store: Store }): Promise<void> {
  const { store } = options
  app.get<{ Params: { id: string } }>(PROOF_CONTRACT.url, documented(PROOF_CONTRACT, { trail: 'integrity.proof' }), async (request) => {
    const { id } = request.params
    if (!UUID.test(id)) throw badRequest([{ field: 'id', rule: 'uuid', message: 'must be a UUID' }])
    const tenant = tenantScope(request)
    const event = await store.getById(id.toLowerCase(), tenant === undefined ? {} : { tenant_id: tenant })
    if (!event) throw new AuditqError('AUDITQ_NOT_FOUND', `no event with id ${id}`)
    return eventProof(store.integrity, event)
  })
}

/** Streams a bundle for `filter` (already bounded to the caller's tenant); `release` runs however the response ends. */
export function sendBundle(request: FastifyRequest, reply: FastifyReply, store: Store, filter: EventFilter, release: () => void): FastifyReply {
  if (!store.integrity?.merkle) {
    release()
    throw new AuditqError('AUDITQ_NOT_FOUND', 'this store keeps no Merkle tree')
  }
  reply.raw.once('close', release)
  async function* lines(): AsyncGenerator<string> {
    try {
      yield* bundleLines(store.integrity, store.stream(filter), { filter: { ...filter } })
    } catch (error) {
      // The header is sent: the bundle simply stops without its end line, which verify-bundle names.
      request.log.error({ err: error }, 'proof bundle failed while streaming')
      throw error
    } finally {
      release()
    }
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  return reply
    .header('content-type', 'application/x-ndjson')
    .header('content-disposition', `attachment; filename="auditq-bundle-${stamp}.ndjson"`)
    .send(Readable.from(lines()))
}
