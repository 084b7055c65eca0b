/**
 * The OCSF activity of an auditq action within its class, read from the action's words
 * (`document.deleted` → Delete). No match is activity 99 (Other), with the action as its name, as
 * the schema asks for a source-specific activity.
 */
import type { OcsfClassName } from './class-table.js'

interface Activity {
  id: number
  name: string
}

type Rule = readonly [RegExp, Activity]

const RULES: Record<OcsfClassName, readonly Rule[]> = {
  authentication: [
    [/log_?out|logoff|sign_?out|signout|session\.(end|ended|revoked|expired)/, { id: 2, name: 'Logoff' }],
    [/log_?in|logon|sign_?in|signin|mfa|auth|session/, { id: 1, name: 'Logon' }],
  ],
  account_change: [
    [/mfa.*(disabl|remov|delet)/, { id: 11, name: 'MFA Factor Disable' }],
    [/mfa.*(enabl|add|enrol|creat)/, { id: 10, name: 'MFA Factor Enable' }],
    [/password.*reset|reset.*password/, { id: 4, name: 'Password Reset' }],
    [/password/, { id: 3, name: 'Password Change' }],
    [/(^|[._])(disabl|deactivat|suspend)/, { id: 5, name: 'Disable' }],
    [/(^|[._])(enabl|activat|unsuspend|unlock)/, { id: 2, name: 'Enable' }],
    [/(^|[._])lock/, { id: 9, name: 'Lock' }],
    [/(^|[._])(detach|unassign|remov)/, { id: 8, name: 'Detach Policy' }],
    [/(^|[._])(attach|assign|grant)/, { id: 7, name: 'Attach Policy' }],
    [/(^|[._])(delet|destroy|revok)/, { id: 6, name: 'Delete' }],
    [/(^|[._])(creat|add|invit|register|sign_?up|issu)/, { id: 1, name: 'Create' }],
  ],
  api_activity: [
    [/(^|[._])(delet|remov|destroy|purg|revok)/, { id: 4, name: 'Delete' }],
    [/(^|[._])(creat|add|insert|post|upload|import|issu|invit)/, { id: 1, name: 'Create' }],
    [/(^|[._])(updat|chang|edit|modif|patch|put|renam|rotat|set|move|enabl|disabl)/, { id: 3, name: 'Update' }],
    [/(^|[._])(read|view|get|list|search|download|export|access|query|show)/, { id: 2, name: 'Read' }],
  ],
}

export function activityOf(ocsfClass: OcsfClassName, action: string): Activity {
  const lower = action.toLowerCase()
  for (const [pattern, activity] of RULES[ocsfClass]) if (pattern.test(lower)) return activity
  return { id: 99, name: action }
}
