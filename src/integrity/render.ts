/** Human-readable verify output for the CLI (the HTTP route returns the report as JSON). */
import type { VerifyReport } from './verify.js'

export function renderVerifyReport(report: VerifyReport): string {
  const lines: string[] = []
  const tenants = report.tenants.length
  if (report.intact) {
    lines.push(`intact: ${report.events} events in ${tenants} tenant${tenants === 1 ? '' : 's'}`)
  } else {
    const failure = report.first_break!
    lines.push(`BROKEN: tenant ${failure.tenant_id}, first bad seq ${failure.seq}: ${failure.problem} (${failure.detail})`)
  }
  for (const tenant of report.tenants) {
    const head = tenant.head ? `head seq ${tenant.head.seq} hash ${tenant.head.hash}` : 'no events'
    const cut = tenant.cut ? `, retention cut at seq ${tenant.cut.seq} (${tenant.cut.kept} kept below it)` : ''
    const signed = report.checkpoints_checked > 0 ? `, ${tenant.checkpoints_matched} signed checkpoints matched` : ''
    const status = tenant.break ? 'BROKEN' : 'intact'
    lines.push(`  ${tenant.tenant_id}: ${status}: ${tenant.events} events, ${head}${cut}${signed}`)
  }
  if (report.checkpoints_checked > 0) {
    const byKey = Object.entries(report.checkpoint_keys ?? {}).map(([keyId, count]) => `key ${keyId}: ${count}`)
    lines.push(`signed checkpoints checked: ${report.checkpoints_checked}${byKey.length > 0 ? ` (${byKey.join(', ')})` : ''}`)
  }
  lines.push(`snapshot: ${report.snapshot}; events committed after it began are not included`)
  return lines.join('\n') + '\n'
}
