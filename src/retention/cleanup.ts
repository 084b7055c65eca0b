/**
 * Retention: delete events older than a cutoff, except excluded actions, without breaking the
 * chain. Per tenant the run (1) counts what it will delete, (2) records a cut: the highest seq it
 * may touch, that event's hash, and a digest of every row at or below it that must stay, (3)
 * deletes in bounded chunks of short transactions, (4) records its own chained audit event and
 * (5) signs a checkpoint that covers the cut. Verify then accepts gaps at or below the cut and
 * nowhere else; see docs/integrity.md.
 */
import { v7 as uuidv7 } from 'uuid'
import { noAddedFields, type AuditEvent } from '../event/types.js'
import { cutKeeps, KeptDigest, RETENTION_ACTION } from '../integrity/chain-walker.js'
import type { SigningKey } from '../integrity/checkpoint.js'
import { createCheckpoints } from '../integrity/make-checkpoints.js'
import { extendTree } from '../integrity/merkle-log.js'
import type { Checkpoint, HoldMatch, RetentionCut } from '../integrity/types.js'
import type { ArchiveConfirmations } from './archive-confirmations.js'
import { keptActions, planRetention, type SkippedTenant, type TenantPlan } from './plan.js'
import type { RetentionStore, RetentionTarget } from './retention-store.js'
import type { Logger } from '../util/logger.js'

export { RETENTION_ACTION }

export interface CleanupOptions {
  /**
   * The rule for tenants without their own retention (`retention_rules`): delete events older than
   * this. Null leaves those tenants alone, so only tenants with their own rule are cleaned.
   */
  cutoff: Date | null
  keepActions: readonly string[]
  /** Archive before delete: no event above what the archive has confirmed is deleted. Absent = no archive. */
  archive?: ArchiveConfirmations | undefined
  dryRun: boolean
  /** Rows per delete transaction: bounds how long one transaction holds its row locks. */
  chunkRows: number
  /** Tenant that records the run when no tenant lost anything (the configured default tenant). */
  defaultTenant: string
  signingKey?: SigningKey | undefined
  logger?: Logger
}

/**
 * Rows per delete chunk when `retention.chunkRows` is unset. PostgreSQL deletes on the server and
 * locks only the rows it deletes. SQLite's deletes are synchronous and take the file's write lock:
 * on 200k events the event loop's worst stall during cleanup was 419 ms with 5,000-row chunks and
 * 101 ms with 500, for a cleanup 1.6× as long (BENCHMARKS.md, "Retention").
 */
export function retentionChunkRows(configured: number | undefined, storeKind: RetentionTarget['kind']): number {
  return configured ?? (storeKind === 'embedded' ? 500 : 5_000)
}

export interface TenantCleanup {
  tenant_id: string
  candidates: number
  deleted: number
  cut_seq: number
  /** The tenant's cutoff: the global one, or its own retention's. */
  cutoff: string
  /** Legal holds the cut honoured (absent: none). */
  holds?: HoldMatch[]
}

export type CleanupReport =
  | { status: 'dry_run'; cutoff: string | null; keep_actions: string[]; tenants: TenantCleanup[]; skipped: SkippedTenant[]; total: number }
  | { status: 'locked'; cutoff: string | null }
  | {
      status: 'done'
      cutoff: string | null
      keep_actions: string[]
      tenants: TenantCleanup[]
      /** Tenants with candidates that this run left alone, and why (a whole-tenant hold, the archive behind). */
      skipped: SkippedTenant[]
      total: number
      duration_ms: number
      checkpoints: Checkpoint[]
    }

export async function runCleanup(store: RetentionTarget, options: CleanupOptions): Promise<CleanupReport> {
  const integrity = store.integrity
  if (!integrity) throw new Error(`the ${store.kind} store does not support retention`)
  const cutoff = options.cutoff?.toISOString() ?? null
  const keep = keptActions(options.keepActions)
  // Holds and tenant rules are read inside the lock, right before planning: a hold released or
  // created while another run held the lock is seen by this one.
  const plan = async () => {
    const rules = store.retentionRules
    const [holds, tenantRules, cuts] = await Promise.all([
      rules ? rules.listHolds() : [],
      rules ? rules.listTenantRetention() : [],
      integrity.snapshot((s) => s.cuts()),
    ])
    const previousCuts = new Map(cuts.map((cut) => [cut.tenant_id, cut]))
    const global = options.cutoff ? { cutoff: options.cutoff, keepActions: options.keepActions } : null
    return { previousCuts, ...(await planRetention({ integrity, global, tenantRules, holds, archive: options.archive, previousCuts, now: new Date() })) }
  }
  if (options.dryRun) {
    const { plans, skipped } = await plan()
    const tenants = plans.map((p) => ({ ...summary(p), candidates: p.candidates, deleted: 0, cut_seq: p.max_seq }))
    return { status: 'dry_run', cutoff, keep_actions: keep, tenants, skipped, total: sum(tenants, 'candidates') }
  }
  const started = Date.now()
  const outcome = await integrity.withRetentionLock(async () => {
    // Before the count: rows committed after it are never removed by partition (see partition-retention.ts).
    const mark = await integrity.partitionRetention?.mark()
    const { plans, skipped, previousCuts } = await plan()
    for (const skip of skipped) options.logger?.warn({ tenant_id: skip.tenant_id, reason: skip.reason }, `retention: tenant left alone: ${skip.detail}`)
    const tenants: TenantCleanup[] = []
    let failure: unknown
    try {
      if (mark !== undefined) await cutByPartition(store, options, plans, previousCuts, mark, tenants)
      else for (const tenantPlan of plans) tenants.push(await cutTenant(store, options, tenantPlan, previousCuts.get(tenantPlan.tenant_id)))
      await recordRun(store, options, cutoff, tenants)
    } catch (error) {
      failure = error
    }
    // Signed whether or not a later tenant failed: cuts already recorded must not stay unsigned.
    const checkpoints = await signAfterRun(integrity, options, tenants.length > 0, failure)
    if (failure !== undefined) throw failure
    return { tenants, skipped, checkpoints }
  })
  if (!outcome.ran) return { status: 'locked', cutoff }
  const { tenants, skipped, checkpoints } = outcome.value
  return { status: 'done', cutoff, keep_actions: keep, tenants, skipped, total: sum(tenants, 'deleted'), duration_ms: Date.now() - started, checkpoints }
}

function summary(plan: TenantPlan): Pick<TenantCleanup, 'tenant_id' | 'cutoff' | 'holds'> {
  return { tenant_id: plan.tenant_id, cutoff: plan.cutoff, ...(plan.holds ? { holds: plan.holds } : {}) }
}

/** Records one tenant's cut, then deletes what it covers in short chunks. */
async function cutTenant(store: RetentionTarget, options: CleanupOptions, plan: TenantPlan, previous: RetentionCut | undefined): Promise<TenantCleanup> {
  const cut = await recordCut(store, plan, previous)
  return deleteAlongChain(store, options, plan, cut)
}

/**
 * The partitioned layout: every tenant's cut is recorded first (nothing may be removed before
 * the cut that accounts for it), then the store removes what the uncapped tenants' rules cover,
 * dropping whole partitions where it can; tenants whose cut the archive lowers go along the chain.
 */
async function cutByPartition(
  store: RetentionTarget,
  options: CleanupOptions,
  plans: readonly TenantPlan[],
  previousCuts: ReadonlyMap<string, RetentionCut>,
  mark: string,
  tenants: TenantCleanup[],
): Promise<void> {
  const cuts = new Map<string, RetentionCut>()
  for (const plan of plans) cuts.set(plan.tenant_id, await recordCut(store, plan, previousCuts.get(plan.tenant_id)))
  const uncapped = plans.filter((plan) => !plan.capped)
  const removed = await store.integrity!.partitionRetention!.apply(
    uncapped.map((plan) => ({ tenant_id: plan.tenant_id, cutoff: plan.cutoff, keep_actions: plan.keep_actions, holds: plan.holds })),
    mark,
    options.chunkRows,
    (message, fields) => options.logger?.info(fields, message),
  )
  for (const plan of plans) {
    if (plan.capped) tenants.push(await deleteAlongChain(store, options, plan, cuts.get(plan.tenant_id)!))
    else tenants.push({ ...summary(plan), candidates: plan.candidates, deleted: removed.get(plan.tenant_id) ?? 0, cut_seq: plan.max_seq })
  }
}

async function recordCut(store: RetentionTarget, plan: TenantPlan, previous: RetentionCut | undefined): Promise<RetentionCut> {
  const integrity = store.integrity!
  const cut = await planCut(store, plan, previous)
  // The Merkle tree is grown over the prefix before any of it is deleted: its tiles keep the leaf
  // hashes, so proofs and consistency proofs across the cut stay computable afterwards.
  if (integrity.merkle) await extendTree(integrity.merkle, cut.tenant_id, cut.seq)
  await integrity.saveCut(cut)
  return cut
}

async function deleteAlongChain(store: RetentionTarget, options: CleanupOptions, plan: TenantPlan, cut: RetentionCut): Promise<TenantCleanup> {
  const integrity = store.integrity!
  let deleted = 0
  let after = 0
  const rule = { tenant_id: cut.tenant_id, maxSeq: cut.seq, cutoff: cut.cutoff, keep_actions: cut.keep_actions, ...(cut.holds ? { holds: cut.holds } : {}) }
  for (;;) {
    const chunk = await integrity.deleteChunk(rule, after, options.chunkRows)
    deleted += chunk.deleted
    after = chunk.lastSeq
    if (chunk.done) break
    // The embedded store deletes synchronously: without a turn of the event loop between
    // chunks, a run inside `serve` would hold off every request until it finished (measured:
    // no insert at all during a 67 s run of bench/retention.ts before this line).
    await new Promise((resolve) => setImmediate(resolve))
  }
  options.logger?.info({ tenant_id: cut.tenant_id, deleted, cut_seq: cut.seq }, 'retention: tenant cleaned')
  return { ...summary(plan), candidates: plan.candidates, deleted, cut_seq: cut.seq }
}

/**
 * Signs a checkpoint per moved head, carrying its cut. After a failed run (`failure` set) a signing
 * error is logged rather than thrown, so the run's own error is the one reported.
 */
async function signAfterRun(integrity: RetentionStore, options: CleanupOptions, cutSomething: boolean, failure: unknown): Promise<Checkpoint[]> {
  if (!options.signingKey) {
    if (cutSomething) options.logger?.warn('retention: no signing key configured, the cut is recorded but not signed (verify --checkpoints will report it)')
    return []
  }
  try {
    return await createCheckpoints(integrity, options.signingKey)
  } catch (error) {
    if (failure === undefined) throw error
    options.logger?.error({ err: error }, 'retention: signing checkpoints after a failed run failed too')
    return []
  }
}

/**
 * The cut's digest is taken from the rows as they are before this run deletes anything: rows the
 * rule (holds included) keeps are exactly the rows that must survive, whatever the delete loop's progress.
 */
async function planCut(store: RetentionTarget, plan: TenantPlan, previous: RetentionCut | undefined): Promise<RetentionCut> {
  const integrity = store.integrity!
  const { tenant_id: tenant, max_seq: seq } = plan
  const hash = previous && previous.seq === seq ? previous.hash : await integrity.hashAt(tenant, seq)
  if (hash === null) throw new Error(`retention: tenant ${tenant} has no event at seq ${seq} to cut at`)
  const rule = { cutoff: plan.cutoff, keep_actions: plan.keep_actions, ...(plan.holds ? { holds: plan.holds } : {}) }
  const kept = new KeptDigest()
  await integrity.snapshot(async (snapshot) => {
    for await (const row of snapshot.rows(tenant, { toSeq: seq })) if (cutKeeps(rule, row)) kept.add(row.hash)
  })
  return { tenant_id: tenant, seq, hash, ...rule, kept_count: kept.count, kept_digest: kept.digest() }
}

/**
 * The run's own audit event(s), chained like any other: one per tenant that lost events, carrying
 * that tenant's cutoff (verify matches it with the cut to know the run completed).
 */
async function recordRun(store: RetentionTarget, options: CleanupOptions, cutoff: string | null, tenants: TenantCleanup[]): Promise<void> {
  const now = new Date().toISOString()
  const keep = keptActions(options.keepActions)
  const targets = tenants.length > 0 ? tenants : [{ tenant_id: options.defaultTenant, candidates: 0, deleted: 0, cut_seq: 0, cutoff: cutoff ?? now }]
  const events: AuditEvent[] = targets.map((tenant) => ({
    id: uuidv7(),
    tenant_id: tenant.tenant_id,
    action: RETENTION_ACTION,
    category: 'warning',
    occurred_at: now,
    received_at: now,
    actor_id: 'auditq',
    actor_type: 'system',
    resource_type: 'audit_log',
    resource_id: null,
    success: true,
    error_message: null,
    description: `retention removed ${tenant.deleted} events older than ${tenant.cutoff}`,
    ip_address: null,
    user_agent: null,
    session_id: null,
    request_id: null,
    client_id: null,
    ...noAddedFields(),
    metadata: { cutoff: tenant.cutoff, deleted: tenant.deleted, candidates: tenant.candidates, keep_actions: keep, cut_seq: tenant.cut_seq },
  }))
  await store.insertBatch(events)
}

function sum(tenants: TenantCleanup[], field: 'candidates' | 'deleted'): number {
  return tenants.reduce((total, tenant) => total + tenant[field], 0)
}

/** The oldest cutoff anyone means: older than this is a typo, not a policy. */
const MAX_AGE_DAYS = 36_500

/**
 * "90d", "12h", "30min" → milliseconds; anything else is refused (undefined). No bare "m": in a
 * retention policy "6m" reads as six months as easily as six minutes, and guessing wrong deletes
 * almost everything. Ages over 100 years are refused too (they overflow a Date).
 */
export function parseAge(text: string): number | undefined {
  const match = /^(\d{1,9})(d|h|min)$/.exec(text.trim())
  if (!match) return undefined
  const unit = { d: 86_400_000, h: 3_600_000, min: 60_000 }[match[2] as 'd' | 'h' | 'min']
  const ms = Number(match[1]) * unit
  return ms > MAX_AGE_DAYS * 86_400_000 ? undefined : ms
}
