/**
 * Signs each tenant's current chain head (with the retention cut in force) and stores it. Where the
 * store keeps the Merkle tree, the tree is grown to the head first and the checkpoint signs its
 * size and root as well: this, not the insert path, is where the tree's cost is paid.
 */
import { isAuditqError, type AuditqError } from '../errors.js'
import type { IntegrityStore } from './integrity-store.js'
import { signCheckpoint, type SigningKey } from './checkpoint.js'
import { extendTree, type TreeHead } from './merkle-log.js'
import type { ChainHead, Checkpoint, RetentionCut } from './types.js'

export interface CheckpointOptions {
  tenant_id?: string
  /** Sign even when the head and cut have not moved since the tenant's last checkpoint. */
  force?: boolean
  /** Grow the Merkle tree and sign its root (default true; setting `integrity.merkleTree`). */
  tree?: boolean
  now?: () => Date
  /**
   * A tenant whose tree cannot grow (a chain hash it needs is gone: a prefix deleted by retention
   * before the tree existed, on the embedded store) is signed without a tree and reported here,
   * so the other tenants' checkpoints are not held up by it.
   */
  onTreeUnavailable?: (tenant: string, error: AuditqError) => void
}

export async function createCheckpoints(store: IntegrityStore, key: SigningKey, options: CheckpointOptions = {}): Promise<Checkpoint[]> {
  const now = (options.now ?? (() => new Date()))().toISOString()
  const merkle = options.tree === false ? undefined : store.merkle
  const due = await store.snapshot(async (snapshot) => {
    const heads = await snapshot.heads(options.tenant_id)
    const cuts = new Map((await snapshot.cuts(options.tenant_id)).map((cut) => [cut.tenant_id, cut]))
    // Only the newest per tenant: reading every checkpoint ever stored would grow without bound.
    const latest = new Map((await snapshot.latestCheckpoints(options.tenant_id)).map((checkpoint) => [checkpoint.tenant_id, checkpoint]))
    const list: Array<{ head: ChainHead; cut: RetentionCut | null; onlyForTree: boolean }> = []
    for (const head of heads) {
      if (head.seq === 0) continue
      const cut = cuts.get(head.tenant_id) ?? null
      const previous = latest.get(head.tenant_id)
      const sameCut = (previous?.cut?.seq ?? null) === (cut?.seq ?? null) && (previous?.cut?.kept_digest ?? null) === (cut?.kept_digest ?? null)
      // A head signed before the tree existed is signed again, this time with its tree.
      const sameTree = !merkle || Boolean(previous?.tree)
      const unchanged = previous && previous.seq === head.seq && sameCut && sameTree
      if (unchanged && !options.force) continue
      list.push({ head, cut, onlyForTree: Boolean(previous && previous.seq === head.seq && sameCut && !sameTree && !options.force) })
    }
    return list
  })
  const signed: Checkpoint[] = []
  for (const { head, cut, onlyForTree } of due) {
    // Outside the snapshot: the tree is written, and rows up to the head never change.
    let tree: TreeHead | undefined
    try {
      tree = merkle ? await extendTree(merkle, head.tenant_id, head.seq) : undefined
    } catch (error) {
      if (!isAuditqError(error) || error.code !== 'AUDITQ_NOT_PROVABLE') throw error
      options.onTreeUnavailable?.(head.tenant_id, error)
      // Signed already without a tree at this very head: signing it again would add nothing.
      if (onlyForTree) continue
    }
    signed.push(signCheckpoint({ tenant_id: head.tenant_id, seq: head.seq, hash: head.hash, created_at: now, cut, ...(tree ? { tree } : {}) }, key))
  }
  await store.saveCheckpoints(signed)
  return signed
}
