/** How checkpoints are stored in this store's table, apart from the integrity store so the Merkle tree's code can read them too. */
import type { Checkpoint, RetentionCut } from '../../integrity/types.js'

export interface CheckpointDbRow {
  tenant_id: string
  seq: string
  hash: string
  created_at: string
  cut: RetentionCut | null
  key_id: string
  signature: string
  tree_size: string | null
  tree_root: string | null
}

export const CHECKPOINT_COLUMNS = 'tenant_id, seq, hash, created_at, cut, key_id, signature, tree_size, tree_root'

/** A checkpoint row as signed: `tree` only on those that carry one (v2). */
export function toCheckpoint({ tree_size, tree_root, ...row }: CheckpointDbRow): Checkpoint {
  const checkpoint: Checkpoint = { ...row, seq: Number(row.seq) }
  if (tree_size !== null && tree_root !== null) checkpoint.tree = { size: Number(tree_size), root: tree_root }
  return checkpoint
}
