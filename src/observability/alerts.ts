import type { Finding, RuleName } from './health-rules.js'

export interface AlertNotice {
  state: 'firing' | 'resolved'
  rule: RuleName
  status: Finding['status']
  /** The finding's text when it fired (a resolve repeats it, so a reader knows what ended). */
  issue: string
  /** Stable per deployment and rule: receivers (PagerDuty, Opsgenie…) group on it. */
  dedupKey: string
  firedAt: string
  resolvedAt?: string
}

interface RuleState {
  active: boolean
  /** A firing notice went out and no resolve has followed it yet. */
  announced: boolean
  lastSentAt: number | undefined
  firedAt: number
  finding: Finding
}

/**
 * Decides which notices to send, from the findings of each sample. Pure (time is passed in).
 * - A rule that starts holding fires once; while it keeps holding nothing more is sent (dedup).
 * - When it stops holding, a resolve goes out at once, but only if its firing was announced.
 * - Cooldown: a rule that fires again within `cooldownMs` of its last notice is held back (a
 *   flapping rule sends at most one fire and one resolve per cooldown); if it still holds when the
 *   cooldown ends, it fires then.
 * - Hold (`holdMs`, per rule, like Prometheus' `for:`): a rule must have held that long before it
 *   fires. For rules whose first samples are expected to be wrong, e.g. no_live_worker while a
 *   worker started with the service has not sent its first heartbeat: a restart would page.
 */
export class AlertRules {
  private readonly states = new Map<RuleName, RuleState>()
  suppressed = 0

  constructor(private readonly options: { cooldownMs: number; dedupPrefix: string; holdMs?: Partial<Record<RuleName, number>> }) {}

  observe(findings: readonly Finding[], now: number): AlertNotice[] {
    const notices: AlertNotice[] = []
    const holding = new Map(findings.map((finding) => [finding.rule, finding]))
    for (const [rule, finding] of holding) {
      let state = this.states.get(rule)
      if (!state) {
        state = { active: false, announced: false, lastSentAt: undefined, firedAt: now, finding }
        this.states.set(rule, state)
      }
      if (!state.active) {
        state.active = true
        state.firedAt = now
      }
      state.finding = finding
      if (state.announced) continue
      if (now - state.firedAt < (this.options.holdMs?.[rule] ?? 0)) continue
      if (state.lastSentAt !== undefined && now - state.lastSentAt < this.options.cooldownMs) {
        this.suppressed += 1
        continue
      }
      state.announced = true
      state.lastSentAt = now
      notices.push(this.notice(state, 'firing'))
    }
    for (const [rule, state] of this.states) {
      if (!state.active || holding.has(rule)) continue
      state.active = false
      if (!state.announced) continue
      state.announced = false
      state.lastSentAt = now
      notices.push({ ...this.notice(state, 'resolved'), resolvedAt: new Date(now).toISOString() })
    }
    return notices
  }

  private notice(state: RuleState, kind: AlertNotice['state']): AlertNotice {
    return {
      state: kind,
      rule: state.finding.rule,
      status: state.finding.status,
      issue: state.finding.issue,
      dedupKey: `${this.options.dedupPrefix}:${state.finding.rule}`,
      firedAt: new Date(state.firedAt).toISOString(),
    }
  }
}
