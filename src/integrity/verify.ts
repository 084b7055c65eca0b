/**
 * `auditq verify`: walks every tenant's chain inside one store snapshot and reports the first
 * break, or that everything is intact. With checkpoints it also proves the chain is the one that
 * was signed: every authentic checkpoint must match the stored row (or the recorded cut) at its
 * seq, the latest retention cut must itself be signed, and a forged signature is a break.
 */
import type { KeyObject } from 'node:crypto'
import type { IntegritySnapshot, IntegrityStore } from './integrity-store.js'
import { ChainWalker } from './chain-walker.js'
import { checkpointIsAuthentic, checkpointMessage, keyIdOf } from './checkpoint.js'
import type { ChainBreak, ChainHead, Checkpoint, RetentionCut, TenantVerdict } from './types.js'

export interface VerifyOptions {
  tenant_id?: string
  /** Sequence range (inclusive); a range verifies links inside it only, not the head. */
  fromSeq?: number
  toSeq?: number
  /**
   * Check signed checkpoints: those in `external` (an exported file) and those in the store. Each
   * must verify under one of `publicKeys`: the current key and every retired one whose
   * checkpoints are still on record (keys are rotated; old checkpoints stay signed by old keys).
   */
  checkpoints?: { external: readonly Checkpoint[]; publicKeys: readonly KeyObject[] }
  /** Stops the run (the HTTP client went away): the store cancels its statement and the walk ends. */
  signal?: AbortSignal
}

export interface VerifyReport {
  intact: boolean
  /** What the run saw: one snapshot; events committed after it began are not part of it. */
  snapshot: string
  events: number
  tenants: TenantVerdict[]
  checkpoints_checked: number
  /** With checkpoints: how many each public key (by key id) verified. */
  checkpoint_keys?: Record<string, number>
  first_break?: ChainBreak
}

const SNAPSHOT = {
  postgres: 'one REPEATABLE READ READ ONLY transaction',
  embedded: 'one SQLite read transaction (WAL snapshot)',
} as const

export async function verifyChains(kind: 'postgres' | 'embedded', store: IntegrityStore, options: VerifyOptions = {}): Promise<VerifyReport> {
  const { signal } = options
  return store.snapshot(async (snapshot) => {
    const heads = await snapshot.heads(options.tenant_id)
    const cuts = new Map((await snapshot.cuts(options.tenant_id)).map((cut) => [cut.tenant_id, cut]))
    const switches = await snapshot.formatSwitches(options.tenant_id)
    const signed = options.checkpoints ? await authenticCheckpoints(snapshot, options) : undefined
    // Rows stored around the chained insert path (seq NULL) are in no chain: count them per tenant.
    const unchained = new Map((await snapshot.unchained(options.tenant_id)).map((row) => [row.tenant_id, row.count]))
    const tenants = new Set([...heads.map((head) => head.tenant_id), ...cuts.keys(), ...(signed?.byTenant.keys() ?? []), ...unchained.keys()])
    if (options.tenant_id !== undefined) tenants.add(options.tenant_id)
    else for (const tenant of await snapshot.tenants()) tenants.add(tenant)
    const report: VerifyReport = {
      intact: true,
      snapshot: SNAPSHOT[kind],
      events: 0,
      tenants: [],
      checkpoints_checked: signed?.count ?? 0,
      ...(signed ? { checkpoint_keys: signed.byKey } : {}),
    }
    if (signed?.failure) return fail(report, signed.failure)
    for (const tenant of [...tenants].sort()) {
      signal?.throwIfAborted()
      const head = heads.find((candidate) => candidate.tenant_id === tenant) ?? null
      const cut = cuts.get(tenant) ?? null
      // With --checkpoints, a tenant nobody signed for still has its cut checked (it must be signed).
      const tenantSigned = signed ? (signed.byTenant.get(tenant) ?? { seqs: new Map(), cuts: [] }) : undefined
      const verdict = await verifyTenant(snapshot, tenant, head, cut, tenantSigned, { ...options, v2FromSeq: switches.get(tenant) ?? 1 })
      const outside = unchained.get(tenant) ?? 0
      if (!verdict.break && outside > 0) verdict.break = unchainedBreak(tenant, outside)
      report.tenants.push(verdict)
      report.events += verdict.events
      if (verdict.break) return fail(report, verdict.break)
    }
    return report
  }, { purpose: 'verify', ...(signal ? { signal } : {}) })
}

function unchainedBreak(tenant: string, count: number): ChainBreak {
  const events = count === 1 ? '1 event has' : `${count} events have`
  return {
    tenant_id: tenant,
    seq: 0,
    problem: 'inserted',
    detail: `${events} no chain position (seq is NULL): stored outside the chained insert path`,
  }
}

function fail(report: VerifyReport, failure: ChainBreak): VerifyReport {
  return { ...report, intact: false, first_break: failure }
}

async function verifyTenant(
  snapshot: IntegritySnapshot,
  tenant: string,
  head: ChainHead | null,
  cut: RetentionCut | null,
  signed: TenantCheckpoints | undefined,
  options: VerifyOptions & { v2FromSeq: number },
): Promise<TenantVerdict> {
  const partial = options.fromSeq !== undefined || options.toSeq !== undefined
  const verdict: TenantVerdict = { tenant_id: tenant, events: 0, head: null, cut: cut ? { seq: cut.seq, kept: cut.kept_count } : null, checkpoints_matched: 0 }
  const signedFailure = signed ? checkCutAgainstCheckpoints(tenant, cut, signed) : undefined
  if (signedFailure) return { ...verdict, break: signedFailure }
  const walker = new ChainWalker({
    tenant_id: tenant,
    cut,
    partial,
    v2FromSeq: options.v2FromSeq,
    ...(options.fromSeq !== undefined ? { fromSeq: options.fromSeq } : {}),
    ...(signed ? { checkpoints: signed.seqs } : {}),
  })
  const range = { ...(options.fromSeq !== undefined ? { fromSeq: options.fromSeq } : {}), ...(options.toSeq !== undefined ? { toSeq: options.toSeq } : {}) }
  for await (const row of snapshot.rows(tenant, range)) {
    // Per row: hashing a long chain in Node is most of a run, and nobody is waiting for it any more.
    options.signal?.throwIfAborted()
    if (walker.push(row)) break
  }
  const failure = walker.broken ?? walker.finish(head, { checkHead: !partial })
  verdict.events = walker.events
  verdict.head = walker.head && walker.head.seq > 0 ? walker.head : null
  verdict.checkpoints_matched = walker.checkpointsMatched
  return failure ? { ...verdict, break: failure } : verdict
}

interface TenantCheckpoints {
  seqs: Map<number, string>
  cuts: RetentionCut[]
}

/** The store's latest cut must be one a checkpoint signed, and no signed cut may have vanished. */
function checkCutAgainstCheckpoints(tenant: string, cut: RetentionCut | null, signed: TenantCheckpoints): ChainBreak | undefined {
  const sameCut = (a: RetentionCut, b: RetentionCut) => cutKey(a) === cutKey(b)
  if (cut && !signed.cuts.some((candidate) => sameCut(candidate, cut))) {
    return { tenant_id: tenant, seq: cut.seq, problem: 'unsigned', detail: `the retention cut at seq ${cut.seq} is not covered by any signed checkpoint` }
  }
  const newest = signed.cuts.reduce<RetentionCut | undefined>((max, c) => (!max || c.seq > max.seq ? c : max), undefined)
  if (newest && (!cut || cut.seq < newest.seq)) {
    return { tenant_id: tenant, seq: newest.seq, problem: 'deleted', detail: `a signed checkpoint records a retention cut at seq ${newest.seq} that the store no longer has` }
  }
  const atCut = cut ? signed.seqs.get(cut.seq) : undefined
  if (cut && atCut !== undefined && atCut !== cut.hash) {
    return { tenant_id: tenant, seq: cut.seq, problem: 'modified', detail: `the retention cut's hash differs from the signed checkpoint at seq ${cut.seq}` }
  }
  return undefined
}

function cutKey(cut: RetentionCut): string {
  return checkpointMessage({ tenant_id: cut.tenant_id, seq: cut.seq, hash: cut.hash, created_at: '', cut }).toString()
}

async function authenticCheckpoints(
  snapshot: IntegritySnapshot,
  options: VerifyOptions,
): Promise<{ byTenant: Map<string, TenantCheckpoints>; count: number; byKey: Record<string, number>; failure?: ChainBreak }> {
  const { external, publicKeys } = options.checkpoints!
  const keys = publicKeys.map((key) => ({ id: keyIdOf(key), key }))
  const stored = await snapshot.checkpoints(options.tenant_id)
  const byTenant = new Map<string, TenantCheckpoints>()
  const byKey: Record<string, number> = Object.fromEntries(keys.map(({ id }) => [id, 0]))
  let count = 0
  const sources: Array<[string, readonly Checkpoint[]]> = [
    ['file', external],
    ['store', stored],
  ]
  for (const [source, list] of sources) {
    for (const checkpoint of list) {
      if (options.tenant_id !== undefined && checkpoint.tenant_id !== options.tenant_id) continue
      const signer = signingKeyOf(checkpoint, keys)
      if (signer === undefined) {
        return { byTenant, count, byKey, failure: badSignature(checkpoint, source, keys) }
      }
      count += 1
      byKey[signer] = (byKey[signer] ?? 0) + 1
      const entry: TenantCheckpoints = byTenant.get(checkpoint.tenant_id) ?? { seqs: new Map(), cuts: [] }
      byTenant.set(checkpoint.tenant_id, entry)
      entry.seqs.set(checkpoint.seq, checkpoint.hash)
      if (checkpoint.cut) entry.cuts.push(checkpoint.cut)
    }
  }
  return { byTenant, count, byKey }
}

/**
 * The id of the given key the checkpoint verifies under, if any. `key_id` is not part of the
 * signed message, so it only says which key to try first; the signature alone decides.
 */
function signingKeyOf(checkpoint: Checkpoint, keys: ReadonlyArray<{ id: string; key: KeyObject }>): string | undefined {
  const named = keys.find(({ id }) => id === checkpoint.key_id)
  if (named && checkpointIsAuthentic(checkpoint, named.key)) return named.id
  return keys.find(({ id, key }) => id !== checkpoint.key_id && checkpointIsAuthentic(checkpoint, key))?.id
}

/** `key_id` comes from the file or the table, both writable by whoever tampered: quoted unless it looks like one. */
function printableKeyId(keyId: unknown): string {
  return typeof keyId === 'string' && /^[0-9a-f]{16}$/.test(keyId) ? keyId : JSON.stringify(String(keyId).slice(0, 64))
}

function badSignature(checkpoint: Checkpoint, source: string, keys: ReadonlyArray<{ id: string }>): ChainBreak {
  const given = keys.map(({ id }) => id).join(', ')
  // Name the likely cause: after a key rotation, the retired key's public half was not passed.
  const hint = keys.some(({ id }) => id === checkpoint.key_id)
    ? ''
    : `; it names key ${printableKeyId(checkpoint.key_id)}, which is not among them (pass that key's public half too if it was rotated out)`
  return {
    tenant_id: checkpoint.tenant_id,
    seq: checkpoint.seq,
    problem: 'bad_signature',
    detail: `a checkpoint in the ${source} (seq ${checkpoint.seq}) verifies with none of the public keys given (${given})${hint}`,
  }
}
