import type { AuditEvent } from '../event/types.js'

/** One stored event with its place in its tenant's chain. */
export interface ChainRow {
  seq: number
  prev_hash: string
  hash: string
  event: AuditEvent
  /**
   * The canonical form the row was hashed under, as stored (1 = auditq.v1, 2 = auditq.v2). Both
   * stores always set it; absent means the current version, as `chainHash` defaults to it.
   */
  canonical_version?: number
}

/** The last event chained for a tenant, as the store's head row records it. */
export interface ChainHead {
  tenant_id: string
  seq: number
  hash: string
}

/**
 * What a retention run removed from a tenant's chain. Rows with seq <= `seq` are a "cut prefix":
 * the run may delete those older than `cutoff` whose action is not in `keep_actions`; every other
 * row of the prefix must stay, and `kept_count` / `kept_digest` fingerprint exactly those.
 * The first row after the cut links to `hash` (the hash of the event at `seq`).
 */
export interface RetentionCut {
  tenant_id: string
  seq: number
  hash: string
  cutoff: string
  keep_actions: string[]
  kept_count: number
  kept_digest: string
  /**
   * Legal holds in force when the cut was made: rows matching one of them stay, whatever their age.
   * Absent (never an empty list) when there were none, so cuts made before holds existed, and
   * their signed checkpoints, read and verify exactly as before.
   */
  holds?: HoldMatch[]
}

/**
 * What a legal hold keeps within its tenant: every row whose actor is `actor_id` (when set) and
 * whose resource is `resource_type`:`resource_id` (when set). A hold naming neither keeps the
 * whole tenant, and retention then leaves that tenant alone rather than recording a cut.
 */
export interface HoldMatch {
  actor_id: string | null
  resource_type: string | null
  resource_id: string | null
}

/** The signed statement: "tenant T's chain had hash H at seq S", plus the cut in force then. */
export interface CheckpointPayload {
  tenant_id: string
  seq: number
  hash: string
  created_at: string
  cut: RetentionCut | null
  /**
   * The Merkle tree over the chain's first `size` events (size = seq) and its root, hex. Absent
   * (or null) on checkpoints signed before the tree existed: those keep the v1 signed form.
   */
  tree?: { size: number; root: string } | null
}

export interface Checkpoint extends CheckpointPayload {
  /** First 16 hex digits of SHA-256 over the public key (SPKI DER): which key signed it. */
  key_id: string
  /** Ed25519 signature over `checkpointMessage(payload)`, base64. */
  signature: string
}

export type ChainProblem = 'modified' | 'deleted' | 'inserted' | 'reordered' | 'unsigned' | 'bad_signature'

export interface ChainBreak {
  tenant_id: string
  seq: number
  problem: ChainProblem
  detail: string
}

export interface TenantVerdict {
  tenant_id: string
  events: number
  head: { seq: number; hash: string } | null
  cut: { seq: number; kept: number } | null
  checkpoints_matched: number
  break?: ChainBreak
}
