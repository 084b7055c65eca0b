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
import type { Checkpoint, RetentionCut } from '../integrity/types.js'
import type { RetentionCandidates, RetentionStore, RetentionTarget } from './retention-store.js'
import type { Logger } from '../util/logger.js'

export { RETENTION_ACTION }

export interface CleanupOptions {
  cutoff: Date
  keepActions: readonly string[]
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
}

export type CleanupReport =
  | { status: 'dry_run'; cutoff: string; keep_actions: string[]; tenants: TenantCleanup[]; total: number }
  | { status: 'locked'; cutoff: string }
  | {
      status: 'done'
      cutoff: string
      keep_actions: string[]
      tenants: TenantCleanup[]
      total: number
      duration_ms: number
      checkpoints: Checkpoint[]
    }

export async function runCleanup(store: RetentionTarget, options: CleanupOptions): Promise<CleanupReport> {
  const integrity = store.integrity
  if (!integrity) throw new Error(`the ${store.kind} store does not support retention`)
  const cutoff = options.cutoff.toISOString()
  const keep = [...new Set(options.keepActions), RETENTION_ACTION].sort()
  if (options.dryRun) {
    const candidates = await integrity.retentionCandidates(cutoff, keep)
    const tenants = candidates.map((c) => ({ tenant_id: c.tenant_id, candidates: c.count, deleted: 0, cut_seq: c.max_seq }))
    return { status: 'dry_run', cutoff, keep_actions: keep, tenants, total: sum(tenants, 'candidates') }
  }
  const started = Date.now()
  const outcome = await integrity.withRetentionLock(async () => {
    const candidates = await integrity.retentionCandidates(cutoff, keep)
    const previousCuts = new Map((await integrity.snapshot((s) => s.cuts())).map((cut) => [cut.tenant_id, cut]))
    const tenants: TenantCleanup[] = []
    let failure: unknown
    try {
      for (const candidate of candidates) tenants.push(await cutTenant(store, options, candidate, previousCuts.get(candidate.tenant_id), cutoff, keep))
      await recordRun(store, options, cutoff, keep, tenants)
    } catch (error) {
      failure = error
    }
    // Signed whether or not a later tenant failed: cuts already recorded must not stay unsigned.
    const checkpoints = await signAfterRun(integrity, options, tenants.length > 0, failure)
    if (failure !== undefined) throw failure
    return { tenants, checkpoints }
  })
  if (!outcome.ran) return { status: 'locked', cutoff }
  const { tenants, checkpoints } = outcome.value
  return { status: 'done', cutoff, keep_actions: keep, tenants, total: sum(tenants, 'deleted'), duration_ms: Date.now() - started, checkpoints }
}

/** Records one tenant's cut, then deletes what it covers in short chunks. */
async function cutTenant(
  store: RetentionTarget,
  options: CleanupOptions,
  candidate: RetentionCandidates,
  previous: RetentionCut | undefined,
  cutoff: string,
  keep: string[],
): Promise<TenantCleanup> {
  const integrity = store.integrity!
  const cut = await planCut(store, candidate.tenant_id, Math.max(candidate.max_seq, previous?.seq ?? 0), previous, cutoff, keep)
  await integrity.saveCut(cut)
  let deleted = 0
  let after = 0
  for (;;) {
    const chunk = await integrity.deleteChunk({ tenant_id: cut.tenant_id, maxSeq: cut.seq, cutoff, keep_actions: keep }, after, options.chunkRows)
    deleted += chunk.deleted
    after = chunk.lastSeq
    if (chunk.done) break
    // The embedded store deletes synchronously: without a turn of the event loop between
    // chunks, a run inside `serve` would hold off every request until it finished (measured:
    // no insert at all during a 67 s run of bench/retention.ts before this line).
    await new Promise((resolve) => setImmediate(resolve))
  }
  options.logger?.info({ tenant_id: cut.tenant_id, deleted, cut_seq: cut.seq }, 'retention: tenant cleaned')
  return { tenant_id: candidate.tenant_id, candidates: candidate.count, deleted, cut_seq: cut.seq }
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
 * rule keeps are exactly the rows that must survive, whatever the delete loop's progress.
 */
async function planCut(
  store: RetentionTarget,
  tenant: string,
  seq: number,
  previous: RetentionCut | undefined,
  cutoff: string,
  keep: string[],
): Promise<RetentionCut> {
  const integrity = store.integrity!
  const hash = previous && previous.seq === seq ? previous.hash : await integrity.hashAt(tenant, seq)
  if (hash === null) throw new Error(`retention: tenant ${tenant} has no event at seq ${seq} to cut at`)
  const rule = { cutoff, keep_actions: keep }
  const kept = new KeptDigest()
  await integrity.snapshot(async (snapshot) => {
    for await (const row of snapshot.rows(tenant, { toSeq: seq })) if (cutKeeps(rule, row)) kept.add(row.hash)
  })
  return { tenant_id: tenant, seq, hash, cutoff, keep_actions: keep, kept_count: kept.count, kept_digest: kept.digest() }
}

/** The run's own audit event(s), chained like any other: one per tenant that lost events. */
async function recordRun(store: RetentionTarget, options: CleanupOptions, cutoff: string, keep: string[], tenants: TenantCleanup[]): Promise<void> {
  const now = new Date().toISOString()
  const targets = tenants.length > 0 ? tenants : [{ tenant_id: options.defaultTenant, candidates: 0, deleted: 0, cut_seq: 0 }]
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
    description: `retention removed ${tenant.deleted} events older than ${cutoff}`,
    ip_address: null,
    user_agent: null,
    session_id: null,
    request_id: null,
    client_id: null,
    ...noAddedFields(),
    metadata: { cutoff, deleted: tenant.deleted, candidates: tenant.candidates, keep_actions: keep, cut_seq: tenant.cut_seq },
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
