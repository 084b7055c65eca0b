/**
 * Inclusion proofs for single events and proof bundles for any set of events (docs/integrity.md,
 * "Proof bundles"). Each event is proven against the newest checkpoint of its tenant that signed a
 * tree; the bundle also carries the checkpoint that first covered each event and consistency
 * proofs between all the checkpoints it carries, so an auditor who kept any of them sees that the
 * log only grew.
 */
import { AuditqError } from '../errors.js'
import type { AuditEvent } from '../event/types.js'
import { canonicalTagOf } from './canonical.js'
import type { IntegrityStore } from './integrity-store.js'
import { consistencyPath, inclusionPath, inclusionPaths } from './merkle-log.js'
import type { ChainPosition, MerkleStore } from './merkle-store.js'
import type { Checkpoint } from './types.js'

export const BUNDLE_FORMAT = 'auditq.bundle.v1'

/** A checkpoint that signed a tree. */
type TreeCheckpoint = Checkpoint & { tree: { size: number; root: string } }

export interface EventProof {
  tenant_id: string
  event_id: string
  seq: number
  leaf_index: number
  chain_format: 1 | 2
  canonical: string
  prev_hash: string
  hash: string
  tree_size: number
  /** Audit path, leaf to root, lower-case hex. */
  proof: string[]
  checkpoint: Checkpoint
}

function merkleOf(integrity: IntegrityStore | undefined): MerkleStore {
  if (!integrity?.merkle) throw new AuditqError('AUDITQ_NOT_FOUND', 'this store keeps no Merkle tree')
  return integrity.merkle
}

/** The tenant's checkpoints with a tree, by tree size (the first signed of each size), and its chain-format switch. */
async function tenantTrees(merkle: MerkleStore, tenant: string, options: { latestOnly?: boolean } = {}): Promise<{ trees: TreeCheckpoint[]; v2FromSeq: number }> {
  const { checkpoints, v2FromSeq } = await merkle.signedTrees(tenant, options)
  const bySize = new Map<number, TreeCheckpoint>()
  for (const checkpoint of checkpoints) {
    if (checkpoint.tree && !bySize.has(checkpoint.tree.size)) bySize.set(checkpoint.tree.size, checkpoint as TreeCheckpoint)
  }
  return { trees: [...bySize.values()].sort((a, b) => a.tree.size - b.tree.size), v2FromSeq }
}

/** Inclusion proof of one event (already read, so already tenant-checked by the caller) to its tenant's newest signed tree. */
export async function eventProof(integrity: IntegrityStore | undefined, event: AuditEvent): Promise<EventProof> {
  const merkle = merkleOf(integrity)
  const tenant = event.tenant_id
  const position = (await merkle.positions(tenant, [event.id])).get(event.id)
  if (!position) throw new AuditqError('AUDITQ_NOT_PROVABLE', `event ${event.id} has no chain position yet: the next checkpoint indexes it`)
  const { trees, v2FromSeq } = await tenantTrees(merkle, tenant, { latestOnly: true })
  const latest = trees.at(-1)
  if (!latest || latest.tree.size < position.seq) {
    throw new AuditqError('AUDITQ_NOT_PROVABLE', `event ${event.id} (seq ${position.seq}) is newer than the latest checkpoint with a Merkle tree${latest ? ` (tree size ${latest.tree.size})` : ''}: sign one with \`auditq checkpoint\``)
  }
  return {
    tenant_id: tenant,
    event_id: event.id,
    ...eventFields(position, v2FromSeq),
    leaf_index: position.seq - 1,
    tree_size: latest.tree.size,
    proof: await inclusionPath(merkle, tenant, position.seq, latest.tree.size),
    checkpoint: latest,
  }
}

/** `canonical`: the form the row records it was hashed under (rows before migration 30: auditq.v1). */
function eventFields(position: ChainPosition, v2FromSeq: number) {
  return {
    seq: position.seq,
    chain_format: (position.seq < v2FromSeq ? 1 : 2) as 1 | 2,
    canonical: canonicalTagOf(position.canonical_version),
    prev_hash: position.prev_hash,
    hash: position.hash,
  }
}

/** Events whose audit paths are computed together (their tiles read once): bounds the tiles held. */
const PROOF_BATCH = 4_096
const POSITION_BATCH = 1_000

/** Milliseconds a bundle spent per phase (the consumer's own time between lines is in none). */
export interface BundlePhases {
  /** Reading the events (the caller's stream). */
  stream?: number
  positions?: number
  /** The tenants' signed checkpoints and chain formats. */
  checkpoints?: number
  consistency?: number
  /** Inclusion proofs: tile reads and hashing. */
  proofs?: number
  /** JSON of the lines. */
  serialize?: number
}

/** Adds the time since `since` to `phase`, and returns now. */
function lap(phases: BundlePhases | undefined, phase: keyof BundlePhases, since: number): number {
  const now = performance.now()
  if (phases) phases[phase] = (phases[phase] ?? 0) + (now - since)
  return now
}

/**
 * The lines of a bundle (NDJSON, each ending in a newline) for `events`, any order, any tenants.
 * Events are held in memory to sort them by chain position: a bundle is evidence for a selection.
 * `phases`, when given, is filled with where the time went (the bench prints it).
 */
export async function* bundleLines(integrity: IntegrityStore | undefined, events: AsyncIterable<AuditEvent>, header: { filter: Record<string, unknown>; now?: Date; phases?: BundlePhases }): AsyncGenerator<string> {
  const merkle = merkleOf(integrity)
  const phases = header.phases
  let t = performance.now()
  const byTenant = new Map<string, AuditEvent[]>()
  for await (const event of events) {
    const list = byTenant.get(event.tenant_id) ?? []
    list.push(event)
    byTenant.set(event.tenant_id, list)
  }
  t = lap(phases, 'stream', t)
  yield line({ type: 'header', format: BUNDLE_FORMAT, created_at: (header.now ?? new Date()).toISOString(), filter: header.filter })
  const tenants = [...byTenant.keys()].sort()
  const proven: Array<{ tenant: string; latest: TreeCheckpoint; v2FromSeq: number; items: Array<{ event: AuditEvent; position: ChainPosition }> }> = []
  let unproven = 0
  for (const tenant of tenants) {
    const list = byTenant.get(tenant)!
    t = performance.now()
    const positions = new Map<string, ChainPosition>()
    for (let i = 0; i < list.length; i += POSITION_BATCH) {
      for (const [id, position] of await merkle.positions(tenant, list.slice(i, i + POSITION_BATCH).map((event) => event.id))) positions.set(id, position)
    }
    t = lap(phases, 'positions', t)
    const { trees, v2FromSeq } = await tenantTrees(merkle, tenant)
    t = lap(phases, 'checkpoints', t)
    const latest = trees.at(-1)
    const items = list
      .map((event) => ({ event, position: positions.get(event.id) }))
      .filter((item): item is { event: AuditEvent; position: ChainPosition } => item.position !== undefined && latest !== undefined && item.position.seq <= latest.tree.size)
      .sort((a, b) => a.position.seq - b.position.seq)
    unproven += list.length - items.length
    if (!latest || items.length === 0) continue
    // The checkpoints involved: the first that covered each event, and the newest.
    const involved = new Map<number, TreeCheckpoint>([[latest.tree.size, latest]])
    let c = 0
    for (const { position } of items) {
      while (trees[c]!.tree.size < position.seq) c += 1
      involved.set(trees[c]!.tree.size, trees[c]!)
    }
    const sizes = [...involved.keys()].sort((a, b) => a - b)
    for (const size of sizes) yield line({ type: 'checkpoint', checkpoint: involved.get(size) })
    for (let i = 1; i < sizes.length; i++) {
      t = performance.now()
      const proof = await consistencyPath(merkle, tenant, sizes[i - 1]!, sizes[i]!)
      lap(phases, 'consistency', t)
      yield line({ type: 'consistency', tenant_id: tenant, from: sizes[i - 1], to: sizes[i], proof })
    }
    proven.push({ tenant, latest, v2FromSeq, items })
  }
  let n = 0
  for (const { tenant, latest, v2FromSeq, items } of proven) {
    for (let i = 0; i < items.length; i += PROOF_BATCH) {
      const batch = items.slice(i, i + PROOF_BATCH)
      t = performance.now()
      const paths = await inclusionPaths(merkle, tenant, batch.map((item) => item.position.seq), latest.tree.size)
      lap(phases, 'proofs', t)
      for (const { event, position } of batch) {
        n += 1
        t = performance.now()
        const text = line({ type: 'event', n, tenant_id: tenant, ...eventFields(position, v2FromSeq), tree_size: latest.tree.size, proof: paths.get(position.seq), event })
        lap(phases, 'serialize', t)
        yield text
      }
    }
  }
  yield line({ type: 'end', events: n, unproven })
}

const line = (value: unknown) => JSON.stringify(value) + '\n'
