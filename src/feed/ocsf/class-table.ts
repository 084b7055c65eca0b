/**
 * Which OCSF class an auditq action becomes: a table of action prefixes, the longest matching
 * prefix wins, anything unmatched is API Activity. Configurable as text
 * (`AUDITQ_OCSF_CLASS_MAP`, `prefix=class,prefix=class`), parsed once at start-up.
 */
import { AuditqError } from '../../errors.js'

export type OcsfClassName = 'api_activity' | 'authentication' | 'account_change'

/** The three classes auditq emits, as OCSF 1.x numbers them (class_uid = category_uid * 1000 + class id). */
export const OCSF_CLASSES: Record<OcsfClassName, { uid: number; name: string; categoryUid: number; categoryName: string }> = {
  api_activity: { uid: 6003, name: 'API Activity', categoryUid: 6, categoryName: 'Application Activity' },
  authentication: { uid: 3002, name: 'Authentication', categoryUid: 3, categoryName: 'Identity & Access Management' },
  account_change: { uid: 3001, name: 'Account Change', categoryUid: 3, categoryName: 'Identity & Access Management' },
}

export interface ClassRule {
  prefix: string
  ocsfClass: OcsfClassName
}

/**
 * The default table: login, logout and MFA actions are Authentication; user, role and credential
 * changes are Account Change. Prefixes match the start of the action as written (`user.login`
 * matches `user.login.failed`); a more specific prefix beats a shorter one (`user.login` over `user.`).
 */
export const DEFAULT_CLASS_TABLE: readonly ClassRule[] = [
  ...['auth.', 'login', 'logout', 'signin', 'signout', 'sign_in', 'sign_out', 'session.', 'mfa.', 'user.login', 'user.logout', 'user.mfa.challenge', 'user.mfa.verify'].map(
    (prefix) => ({ prefix, ocsfClass: 'authentication' as const }),
  ),
  ...['user.', 'role.', 'account.', 'credential.', 'password.', 'api_key.', 'user.mfa.'].map((prefix) => ({ prefix, ocsfClass: 'account_change' as const })),
]

const CLASS_NAMES = Object.keys(OCSF_CLASSES) as OcsfClassName[]

/** `prefix=class,prefix=class` → rules; refuses an unknown class or an empty prefix, naming the setting. */
export function parseClassTable(text: string, setting = 'AUDITQ_OCSF_CLASS_MAP'): ClassRule[] {
  const rules: ClassRule[] = []
  for (const item of text.split(',').map((part) => part.trim()).filter(Boolean)) {
    const at = item.lastIndexOf('=')
    const prefix = at > 0 ? item.slice(0, at).trim() : ''
    const ocsfClass = item.slice(at + 1).trim() as OcsfClassName
    if (prefix === '' || !CLASS_NAMES.includes(ocsfClass)) {
      throw new AuditqError(
        'AUDITQ_CONFIG',
        `${setting}: each item must be prefix=class with class one of ${CLASS_NAMES.join(', ')}; got ${JSON.stringify(item)}`,
      )
    }
    rules.push({ prefix, ocsfClass })
  }
  return rules
}

/** The class of `action` under `table`: the longest matching prefix, else API Activity. */
export function classOf(action: string, table: readonly ClassRule[]): OcsfClassName {
  let best: ClassRule | undefined
  for (const rule of table) {
    if (action.startsWith(rule.prefix) && (!best || rule.prefix.length > best.prefix.length)) best = rule
  }
  return best?.ocsfClass ?? 'api_activity'
}
