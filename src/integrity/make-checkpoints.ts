/** Signs each tenant's current chain head (with the retention cut in force) and stores it. */
import type { IntegrityStore } from './integrity-store.js'
import { signCheckpoint, type SigningKey } from './checkpoint.js'
import type { Checkpoint } from './types.js'

export interface CheckpointOptions {
  tenant_id?: string
  /** Sign even when the head and cut have not moved since the tenant's last checkpoint. */
  force?: boolean
  now?: () => Date
}

export async function createCheckpoints(store: IntegrityStore, key: SigningKey, options: CheckpointOptions = {}): Promise<Checkpoint[]> {
  const now = (options.now ?? (() => new Date()))().toISOString()
  const created = await store.snapshot(async (snapshot) => {
    const heads = await snapshot.heads(options.tenant_id)
    const cuts = new Map((await snapshot.cuts(options.tenant_id)).map((cut) => [cut.tenant_id, cut]))
    // Only the newest per tenant: reading every checkpoint ever stored would grow without bound.
    const latest = new Map((await snapshot.latestCheckpoints(options.tenant_id)).map((checkpoint) => [checkpoint.tenant_id, checkpoint]))
    const signed: Checkpoint[] = []
    for (const head of heads) {
      if (head.seq === 0) continue
      const cut = cuts.get(head.tenant_id) ?? null
      const previous = latest.get(head.tenant_id)
      const sameCut = (previous?.cut?.seq ?? null) === (cut?.seq ?? null) && (previous?.cut?.kept_digest ?? null) === (cut?.kept_digest ?? null)
      const unchanged = previous && previous.seq === head.seq && sameCut
      if (unchanged && !options.force) continue
      signed.push(signCheckpoint({ tenant_id: head.tenant_id, seq: head.seq, hash: head.hash, created_at: now, cut }, key))
    }
    return signed
  })
  await store.saveCheckpoints(created)
  return created
}
