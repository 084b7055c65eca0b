import type { FastifyReply } from 'fastify'
import { AuditqError } from '../errors.js'

export interface BusyGateOptions {
  /** What is limited, as the refusal names it ("chain verification", "report", "export"). */
  what: string
  /** Runs one tenant may have at once in this process. */
  perTenant: number
  /** Runs all tenants together may have at once in this process. */
  global: number
  retryAfterSeconds: number
}

/**
 * Bounds runs of an expensive read (a chain verification, a report, an export) in this process,
 * per tenant and for all tenants together. A caller over a limit is refused at once instead of
 * queued: a queue would hold connections and snapshots for work the caller may have given up on.
 *
 * The two refusals say different things on purpose. Over its own tenant's limit a caller gets 429
 * `AUDITQ_RATE_LIMITED`, which reflects only what that tenant is running. When the process-wide
 * limit is reached by others the answer is 503 `AUDITQ_BUSY` with a message that names no count
 * and no tenant, so a 429 never reveals another tenant's activity, and one tenant's runs cannot
 * take every slot (each tenant holds at most `perTenant` of them).
 *
 * `tenant` is the tenant the read is bound to; an unbound key reading every tenant is one more
 * "tenant" (`*`), limited like the others.
 */
export class BusyGate {
  private running = 0
  private readonly byTenant = new Map<string, number>()

  constructor(private readonly options: BusyGateOptions) {}

  /** Runs `work` under the gate, or refuses (throws) without running it. */
  async run<T>(reply: FastifyReply, tenant: string | undefined, work: () => Promise<T>): Promise<T> {
    const release = this.acquire(reply, tenant)
    try {
      return await work()
    } finally {
      release()
    }
  }

  /**
   * Takes a slot and returns its release (idempotent), or refuses. For work that outlives the
   * handler (a streamed export) the caller releases when the response ends.
   */
  acquire(reply: FastifyReply, tenant: string | undefined): () => void {
    const key = tenant ?? '*'
    const { what, perTenant, global, retryAfterSeconds } = this.options
    const own = this.byTenant.get(key) ?? 0
    if (own >= perTenant) {
      reply.header('retry-after', String(retryAfterSeconds))
      const scope = tenant === undefined ? 'this key' : `tenant ${JSON.stringify(tenant)}`
      throw new AuditqError(
        'AUDITQ_RATE_LIMITED',
        `${what} limit reached: ${scope} already has ${own} running, at most ${perTenant}; retry in ${retryAfterSeconds} s`,
      )
    }
    if (this.running >= global) {
      reply.header('retry-after', String(retryAfterSeconds))
      throw new AuditqError('AUDITQ_BUSY', `the service is busy with other ${what} requests; retry in ${retryAfterSeconds} s`)
    }
    this.running += 1
    this.byTenant.set(key, own + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      this.running -= 1
      const left = (this.byTenant.get(key) ?? 1) - 1
      if (left > 0) this.byTenant.set(key, left)
      else this.byTenant.delete(key)
    }
  }

  /** Slots taken, for tests and health output. */
  get inUse(): number {
    return this.running
  }
}
