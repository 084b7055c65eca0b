/** `auditq completeness`: per producer, the missing and in-flight sequence ranges. */
import type { Command } from 'commander'
import { AuditqError } from '../errors.js'
import { checkCompleteness, type CompletenessReport } from '../completeness/check.js'
import { parseProducer, parseSince } from '../completeness/params.js'
import { commandConfig, openExistingStore } from './context.js'

interface CompletenessFlags {
  producer?: string
  tenantId?: string
  since?: string
  json?: boolean
}

export function registerCompleteness(program: Command): void {
  program
    .command('completeness')
    .description('list, per producer, the sequence numbers neither stored nor accounted for; exit 0 none missing, 1 some missing, 2 bad usage')
    .option('--producer <id>', 'one producer only')
    .option('--tenant-id <tenant>', "only this tenant's events: the producers writing only it (one writing several tenants is checked without it)")
    .option('--since <time>', 'only numbers issued from this time on (ISO-8601)')
    .option('--json', 'print the report as JSON')
    .action(async (flags: CompletenessFlags, command: Command) => {
      const config = commandConfig(command)
      const producer = parseProducer(flags.producer, '--producer')
      const since = parseSince(flags.since, '--since')
      const store = await openExistingStore(config)
      let report: CompletenessReport
      try {
        if (!store.completeness) throw new AuditqError('AUDITQ_CONFIG', `the ${store.kind} store has no completeness check`)
        report = await checkCompleteness(
          store.completeness,
          { ...(flags.tenantId !== undefined ? { tenant_id: flags.tenantId } : {}), ...(producer !== undefined ? { producer_id: producer } : {}) },
          { inFlightBoundMs: config.completeness.inFlightBoundMs, ...(since ? { since } : {}) },
        )
      } finally {
        await store.close()
      }
      process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : renderCompleteness(report))
      if (report.missing_events > 0) process.exitCode = 1
    })
}

const ranges = (gaps: ReadonlyArray<{ from: number; to: number }>) => gaps.map((g) => (g.from === g.to ? `${g.from}` : `${g.from}-${g.to}`)).join(', ')

export function renderCompleteness(report: CompletenessReport): string {
  const lines = [
    report.missing_events === 0 ? `complete: no producer has missing events (${report.producers.length} producers)` : `MISSING: ${report.missing_events} events`,
  ]
  for (const p of report.producers) {
    const head = p.head ? `head ${p.head.last_seq}${p.head.final ? ' (final)' : ''} at ${p.head.recorded_at}` : 'no head record'
    lines.push(`  ${p.producer_id}: ${p.stored} stored, ${p.rejected} rejected, ${p.dead_lettered} dead-lettered, ${p.purged > 0 ? `${p.purged} purged, ` : ''}${head}`)
    if (p.missing.length > 0) lines.push(`    missing: ${ranges(p.missing)}`)
    if (p.dead_lettered_ranges.length > 0) lines.push(`    dead-lettered (auditq dlq list): ${ranges(p.dead_lettered_ranges)}`)
    if (p.purged_ranges.length > 0) lines.push(`    purged from the dead-letter queue: ${ranges(p.purged_ranges)}`)
    if (p.in_flight.length > 0) lines.push(`    in flight: ${ranges(p.in_flight)}`)
  }
  lines.push(`in flight = issued less than ${Math.round(report.in_flight_bound_ms / 1000)} s ago, or the producer still holds spilled events`)
  return `${lines.join('\n')}\n`
}
