import { truncateIpAddress } from './ip.js'
import type { AuditEvent } from './types.js'

/** What a redacted value is stored as. */
export const REDACTED = '[REDACTED]'

export const DEFAULT_REDACT_KEYS: readonly string[] = ['password', 'passwd', 'secret', 'token', 'api_key', 'authorization', 'cookie', 'credit_card', 'ssn']

export type IpTruncation = 'none' | '24/48'

export interface RedactionOptions {
  /** Metadata keys whose values are never stored (default `DEFAULT_REDACT_KEYS`; [] turns redaction off). */
  keys?: readonly string[]
  /** '24/48' stores only the /24 (IPv4) or /48 (IPv6) network of `ip_address`. */
  ipTruncation?: IpTruncation
}

export interface RedactionPolicy {
  /** Each configured key as its lower-case words (`api_key` → ['api', 'key']). */
  readonly keyWords: readonly (readonly string[])[]
  /** Each configured key with its separators removed (`api_key` → 'apikey'), to catch `apikey`. */
  readonly compactKeys: ReadonlySet<string>
  readonly ipTruncation: IpTruncation
  /**
   * Verdicts for keys already seen. Metadata keys are a small vocabulary repeated on every event,
   * and splitting a key into words was about 7 % of `log()`'s CPU in direct mode; bounded so that
   * keys made of data (ids as keys) cannot grow it without limit.
   */
  readonly verdicts: Map<string, boolean>
}

/** Keys remembered per policy; past this the cache is cleared and refilled. */
const MAX_VERDICTS = 4_096

export interface RedactionReport {
  /** Metadata values replaced by `[REDACTED]`. */
  redactedValues: number
  ipTruncated: boolean
}

export function redactionPolicy(options: RedactionOptions = {}): RedactionPolicy {
  const keys = options.keys ?? DEFAULT_REDACT_KEYS
  const keyWords = keys.map(words).filter((w) => w.length > 0)
  return { keyWords, compactKeys: new Set(keyWords.map((w) => w.join(''))), ipTruncation: options.ipTruncation ?? 'none', verdicts: new Map() }
}

/**
 * A metadata key's words: split at separators and camelCase humps, lower-cased
 * (`X-Api-Key` → x, api, key; `accessToken` → access, token; `user_ssn` → user, ssn).
 */
function words(key: string): string[] {
  return key
    // An acronym ends where a capitalized word starts: DBPassword → DB Password, JWTToken → JWT Token.
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean)
}

/**
 * True when a key names a secret: a configured key's words appear, in order, among the key's
 * words (a plural `s` allowed on the last), or one of its words is the configured key without
 * separators. Whole words, not substrings: `token` catches `accessToken` and `refresh_tokens`,
 * `ssn` catches `user_ssn` but not `classname`, which a substring match would wreck.
 */
export function isSecretKey(key: string, policy: RedactionPolicy): boolean {
  if (policy.keyWords.length === 0) return false
  const known = policy.verdicts.get(key)
  if (known !== undefined) return known
  const verdict = judgeKey(key, policy)
  if (policy.verdicts.size >= MAX_VERDICTS) policy.verdicts.clear()
  policy.verdicts.set(key, verdict)
  return verdict
}

function judgeKey(key: string, policy: RedactionPolicy): boolean {
  const keyWords = words(key)
  for (const word of keyWords) if (policy.compactKeys.has(word) || (word.endsWith('s') && policy.compactKeys.has(word.slice(0, -1)))) return true
  for (const target of policy.keyWords) {
    for (let start = 0; start + target.length <= keyWords.length; start++) {
      if (target.every((t, i) => sameWord(keyWords[start + i]!, t, i === target.length - 1))) return true
    }
  }
  return false
}

function sameWord(word: string, target: string, last: boolean): boolean {
  return word === target || (last && word === `${target}s`)
}

/**
 * Applies the policy to a validated event in place (its metadata is already the validator's own
 * copy) and says what it changed. Walks every level of metadata, arrays included; the validator
 * has already bounded its depth and size, so the walk is bounded too. A redacted value is
 * replaced whole, whatever its type, so a secret nested inside `{"password": {...}}` goes too.
 */
export function redactEvent(event: AuditEvent, policy: RedactionPolicy): RedactionReport {
  const report: RedactionReport = { redactedValues: 0, ipTruncated: false }
  if (policy.keyWords.length > 0) {
    redactValue(event.metadata, policy, report)
    if (event.changes) redactChanges(event.changes, policy, report)
  }
  if (policy.ipTruncation === '24/48' && event.ip_address !== null) {
    const truncated = truncateIpAddress(event.ip_address)
    report.ipTruncated = truncated !== event.ip_address
    event.ip_address = truncated
  }
  return report
}

/**
 * `changes` by the metadata rules, keeping its shape: a changed field whose name is a secret
 * (`changes.password`) keeps `before`/`after` but each non-null value becomes "[REDACTED]" (null
 * stays null: "it was set" or "it was cleared" is the audit fact, the value is the secret); other
 * fields' values are walked like metadata.
 */
function redactChanges(changes: Record<string, { before: unknown; after: unknown }>, policy: RedactionPolicy, report: RedactionReport): void {
  for (const field of Object.keys(changes)) {
    const change = changes[field]!
    if (isSecretKey(field, policy)) {
      for (const side of ['after', 'before'] as const) {
        if (change[side] === null || change[side] === undefined) continue
        change[side] = REDACTED
        report.redactedValues += 1
      }
    } else {
      redactValue(change.before, policy, report)
      redactValue(change.after, policy, report)
    }
  }
}

function redactValue(value: unknown, policy: RedactionPolicy, report: RedactionReport): void {
  if (Array.isArray(value)) {
    for (const item of value) redactValue(item, policy, report)
    return
  }
  if (typeof value !== 'object' || value === null) return
  const record = value as Record<string, unknown>
  for (const key of Object.keys(record)) {
    if (isSecretKey(key, policy)) {
      // defineProperty, not assignment: a key named `__proto__` is data here, never the prototype.
      Object.defineProperty(record, key, { value: REDACTED, enumerable: true, writable: true, configurable: true })
      report.redactedValues += 1
    } else {
      redactValue(record[key], policy, report)
    }
  }
}
