/**
 * A feed over the hash chain: each tenant's events in seq order (1, 2, 3 … without gaps), read
 * from the chain tables both stores keep. The cursor records, per tenant, the last seq read, so
 * it resumes exactly and never skips an event committed later into a tenant already passed.
 * Across tenants the order is by tenant name per page: a stream's ordering promise is per tenant,
 * which is the order the chain defines.
 */
import { AuditqError } from '../errors.js'
import type { IntegrityStore } from '../integrity/integrity-store.js'
import { CommitSignal, type FeedPage, type FeedScope, type FeedSource } from './feed-source.js'
import type { FeedEvent } from './sink.js'

type Positions = Record<string, number>

export function encodeChainCursor(positions: Positions): string {
  return `c1.${Buffer.from(JSON.stringify(positions)).toString('base64url')}`
}

export function decodeChainCursor(cursor: string | null): Positions {
  if (cursor === null) return {}
  const match = /^c1\.([A-Za-z0-9_-]*)$/.exec(cursor)
  const parsed: unknown = match ? safeParse(Buffer.from(match[1]!, 'base64url').toString('utf8')) : null
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || Object.values(parsed).some((seq) => !Number.isInteger(seq) || (seq as number) < 0)) {
    throw new AuditqError('AUDITQ_BAD_REQUEST', `cursor: "${cursor.slice(0, 40)}" is not a feed cursor this service issued`)
  }
  return parsed as Positions
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

export class ChainFeed implements FeedSource {
  constructor(
    private readonly integrity: IntegrityStore,
    private readonly signal: CommitSignal = new CommitSignal(),
  ) {}

  async read(after: string | null, limit: number, scope: FeedScope): Promise<FeedPage> {
    const positions = { ...decodeChainCursor(after) }
    const events: FeedEvent[] = []
    await this.integrity.snapshot(
      async (snapshot) => {
        const heads = await snapshot.heads(scope.tenant_id ?? undefined)
        for (const head of heads.sort((a, b) => (a.tenant_id < b.tenant_id ? -1 : 1))) {
          if (events.length >= limit) break
          const from = (positions[head.tenant_id] ?? 0) + 1
          if (from > head.seq) continue
          const to = Math.min(head.seq, from + (limit - events.length) - 1)
          for await (const row of snapshot.rows(head.tenant_id, { fromSeq: from, toSeq: to })) {
            positions[head.tenant_id] = row.seq
            events.push({ event: row.event, seq: row.seq, hash: row.hash, cursor: encodeChainCursor(positions) })
          }
        }
      },
      { purpose: 'verify' },
    )
    return { events, next: events.length > 0 ? events[events.length - 1]!.cursor : after }
  }

  waitForNew(maxWaitMs: number, signal: AbortSignal): Promise<void> {
    return this.signal.wait(maxWaitMs, signal)
  }

  async backlog(after: string | null, scope: FeedScope): Promise<number> {
    const positions = decodeChainCursor(after)
    return this.integrity.snapshot(async (snapshot) => {
      const heads = await snapshot.heads(scope.tenant_id ?? undefined)
      return heads.reduce((sum, head) => sum + Math.max(0, head.seq - (positions[head.tenant_id] ?? 0)), 0)
    }, { purpose: 'verify' })
  }
}
