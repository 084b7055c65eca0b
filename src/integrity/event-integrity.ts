import type { IntegrityStore } from './integrity-store.js'
import { verifyChains } from './verify.js'

export interface EventIntegrity {
  /** `intact`: its hash matches its content and the next event, if any, links to it; `unchained`: stored without a chain position. */
  status: 'intact' | 'broken' | 'unchained' | 'unknown'
  seq?: number
  detail?: string
}

/**
 * One event's place in its tenant's chain, checked the way `verify` checks a range: the event at
 * `seq` and its successor, in one snapshot. A break elsewhere in the tenant (rows outside the
 * chain, say) is not this event's: only a break at the event or at its successor's link counts.
 */
export async function checkEventIntegrity(kind: 'postgres' | 'embedded', store: IntegrityStore, tenant: string, id: string, signal?: AbortSignal): Promise<EventIntegrity> {
  const seq = await store.snapshot(async (snapshot) => (snapshot.seqOf ? snapshot.seqOf(tenant, id) : undefined), { purpose: 'verify', ...(signal ? { signal } : {}) })
  if (seq === undefined) return { status: 'unknown' }
  if (seq === null) return { status: 'unchained' }
  const report = await verifyChains(kind, store, { tenant_id: tenant, fromSeq: seq, toSeq: seq + 1, ...(signal ? { signal } : {}) })
  const found = report.first_break
  if (found && (found.seq === seq || found.seq === seq + 1)) return { status: 'broken', seq, detail: found.detail }
  return { status: 'intact', seq, detail: `position ${seq} in the chain` }
}
