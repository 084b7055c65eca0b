/**
 * Which tenants a retention run cuts, up to which seq, under which rule: the global rule or the
 * tenant's own, minus what legal holds keep, and never past what the archive has confirmed.
 * Everything here is decided before anything is deleted and recorded in the cut, so verify later
 * judges the thinned prefix by exactly the rule the run applied.
 */
import { RETENTION_ACTION } from '../event/reserved.js'
import type { HoldMatch, RetentionCut } from '../integrity/types.js'
import type { ArchiveConfirmations } from './archive-confirmations.js'
import { holdMatchesOf, holdsWholeTenant, type LegalHold, type TenantRetention } from './retention-rules.js'
import type { RetentionStore } from './retention-store.js'

const DAY_MS = 86_400_000

export interface TenantPlan {
  tenant_id: string
  cutoff: string
  keep_actions: string[]
  /** Absent when no hold applies (the cut then carries none). */
  holds?: HoldMatch[]
  /** Rows the rule would delete before holds (what the store counted). */
  candidates: number
  /** Highest seq the run may touch: the highest candidate, lowered to the archive's confirmation. */
  max_seq: number
  /** True when the archive's confirmation lowered max_seq below the highest candidate. */
  capped: boolean
}

export interface SkippedTenant {
  tenant_id: string
  reason: 'legal_hold' | 'archive_behind'
  detail: string
}

export interface PlanInput {
  integrity: RetentionStore
  /** The rule for tenants without their own; null leaves those tenants alone (retention.days unset). */
  global: { cutoff: Date; keepActions: readonly string[] } | null
  tenantRules: readonly TenantRetention[]
  holds: readonly LegalHold[]
  archive: ArchiveConfirmations | undefined
  previousCuts: ReadonlyMap<string, RetentionCut>
  now: Date
}

/** The kept actions of a rule: its own plus the run's own event, which verify needs to find. */
export function keptActions(actions: readonly string[]): string[] {
  return [...new Set([...actions, RETENTION_ACTION])].sort()
}

export async function planRetention(input: PlanInput): Promise<{ plans: TenantPlan[]; skipped: SkippedTenant[] }> {
  const { integrity } = input
  const own = new Map(input.tenantRules.map((rule) => [rule.tenant_id, rule]))
  const rules: { tenant_id: string | undefined; cutoff: string; keep: string[] }[] = []
  if (input.global) rules.push({ tenant_id: undefined, cutoff: input.global.cutoff.toISOString(), keep: keptActions(input.global.keepActions) })
  for (const rule of own.values()) {
    rules.push({ tenant_id: rule.tenant_id, cutoff: new Date(input.now.getTime() - rule.days * DAY_MS).toISOString(), keep: keptActions(rule.keep_actions) })
  }
  const plans: TenantPlan[] = []
  const skipped: SkippedTenant[] = []
  for (const rule of rules) {
    const candidates = await integrity.retentionCandidates(rule.cutoff, rule.keep, rule.tenant_id === undefined ? {} : { tenant_id: rule.tenant_id })
    for (const candidate of candidates) {
      // The global rule's count covers every tenant; those with their own rule are planned by it.
      if (rule.tenant_id === undefined && own.has(candidate.tenant_id)) continue
      const holds = holdMatchesOf(input.holds, candidate.tenant_id)
      if (holds.some(holdsWholeTenant)) {
        skipped.push({ tenant_id: candidate.tenant_id, reason: 'legal_hold', detail: 'a legal hold keeps the whole tenant' })
        continue
      }
      let maxSeq = candidate.max_seq
      const previousSeq = input.previousCuts.get(candidate.tenant_id)?.seq ?? 0
      if (input.archive) {
        const confirmed = await input.archive.confirmedThrough(candidate.tenant_id)
        if (confirmed !== null) {
          // A new cut applies its rule to its whole prefix, so it may not lie below the last one;
          // and a prefix reaching past the archive's confirmation would delete unarchived events.
          if (confirmed < previousSeq || Math.min(maxSeq, confirmed) < 1) {
            skipped.push({ tenant_id: candidate.tenant_id, reason: 'archive_behind', detail: `the archive has confirmed seq ${confirmed}, the chain is cut at seq ${previousSeq}` })
            continue
          }
          maxSeq = Math.min(maxSeq, confirmed)
        }
      }
      plans.push({
        tenant_id: candidate.tenant_id,
        cutoff: rule.cutoff,
        keep_actions: rule.keep,
        ...(holds.length > 0 ? { holds } : {}),
        candidates: candidate.count,
        max_seq: Math.max(maxSeq, previousSeq),
        capped: maxSeq < candidate.max_seq,
      })
    }
  }
  plans.sort((a, b) => (a.tenant_id < b.tenant_id ? -1 : a.tenant_id > b.tenant_id ? 1 : 0))
  return { plans, skipped }
}
