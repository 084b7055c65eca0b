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
import { consistencyPath, inclusionPath, inclusionPathBatches } from './merkle-log.js'
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
const PROOF_BATCH = 2_048
const POSITION_BATCH = 1_000
/** Position reads in flight at once while the events stream in. */
const POSITION_READS_AHEAD = 2

/**
 * Reads the chain positions of streamed events a batch at a time while the stream goes on, so the
 * database looks them up while this process parses the next rows, instead of after all of them.
 */
class PositionReads {
  private readonly reads: Array<{ tenant: string; result: Promise<Map<string, ChainPosition>> }> = []
  private readonly pending = new Map<string, string[]>()
  constructor(private readonly merkle: MerkleStore) {}

  /** Notes an event; returns a promise to await when reads are at their limit. */
  add(tenant: string, id: string): Promise<void> | undefined {
    let ids = this.pending.get(tenant)
    if (!ids) this.pending.set(tenant, (ids = []))
    ids.push(id)
    if (ids.length < POSITION_BATCH) return undefined
    this.pending.delete(tenant)
    return this.launch(tenant, ids)
  }

  private async launch(tenant: string, ids: string[]): Promise<void> {
    const limit = this.reads.at(-POSITION_READS_AHEAD)
    if (limit) await limit.result
    const result = this.merkle.positions(tenant, ids)
    // Awaited in `of`, or abandoned when the bundle stops early: not an unhandled rejection.
    result.catch(() => undefined)
    this.reads.push({ tenant, result })
  }

  /** Every position read, by tenant and event id, once the stream has ended. */
  async all(): Promise<Map<string, Map<string, ChainPosition>>> {
    for (const [tenant, ids] of this.pending) await this.launch(tenant, ids)
    this.pending.clear()
    const byTenant = new Map<string, Map<string, ChainPosition>>()
    for (const read of this.reads) {
      let positions = byTenant.get(read.tenant)
      if (!positions) byTenant.set(read.tenant, (positions = new Map()))
      for (const [id, position] of await read.result) positions.set(id, position)
    }
    return byTenant
  }
}

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
  const reads = new PositionReads(merkle)
  for await (const event of events) {
    const list = byTenant.get(event.tenant_id) ?? []
    list.push(event)
    byTenant.set(event.tenant_id, list)
    const wait = reads.add(event.tenant_id, event.id)
    if (wait) await wait
  }
  t = lap(phases, 'stream', t)
  const positionsByTenant = await reads.all()
  t = lap(phases, 'positions', t)
  yield line({ type: 'header', format: BUNDLE_FORMAT, created_at: (header.now ?? new Date()).toISOString(), filter: header.filter })
  const tenants = [...byTenant.keys()].sort()
  const proven: Array<{ tenant: string; latest: TreeCheckpoint; v2FromSeq: number; items: Array<{ event: AuditEvent; position: ChainPosition }> }> = []
  let unproven = 0
  for (const tenant of tenants) {
    const list = byTenant.get(tenant)!
    const positions = positionsByTenant.get(tenant) ?? new Map<string, ChainPosition>()
    t = performance.now()
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
    const batches: Array<typeof items> = []
    for (let i = 0; i < items.length; i += PROOF_BATCH) batches.push(items.slice(i, i + PROOF_BATCH))
    const pathBatches = inclusionPathBatches(merkle, tenant, batches.map((batch) => batch.map((item) => item.position.seq)), latest.tree.size)
    for (const batch of batches) {
      t = performance.now()
      const paths = (await pathBatches.next()).value as Map<number, string[]>
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
