import type { Command } from 'commander'
import { writeFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { AuditqError, isAuditqError } from '../errors.js'
import type { FieldError } from '../event/types.js'
import { generateReport } from '../report/generate.js'
import { parseReportRequest, REPORT_FORMATS, type ReportFormat } from '../report/params.js'
import { RENDERERS } from '../report/render/index.js'
import { commandConfig, FROM_HELP, openReadingStore, TO_HELP } from './context.js'

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('summarize a period: totals, success rate, categories, top actors/actions/resource types, failures, timeline')
    .argument('[period]', 'daily | weekly (ISO, Monday start) | monthly, in UTC; or use --from/--to')
    .option('--date <YYYY-MM-DD>', 'a day inside the period (default: today, UTC)')
    .option('--from <time>', `custom range start: ${FROM_HELP}`)
    .option('--to <time>', `custom range end: ${TO_HELP}`)
    .option('--tenant-id <tenant>', 'only this tenant (default: every tenant)')
    .option('--top <n>', 'rows in each top list')
    .option('--format <format>', 'table | json | csv | html (default: from --output\'s extension, else table on a terminal, JSON otherwise)')
    .option('--output <file>', 'write to a file instead of stdout')
    .action(async (period: string | undefined, options: Record<string, string | undefined>, command: Command) => {
      const config = commandConfig(command)
      const raw: Record<string, unknown> = {
        period,
        date: options.date,
        from: options.from,
        to: options.to,
        tenant_id: options.tenantId,
        top: options.top,
        format: options.format ?? defaultFormat(options.output),
      }
      for (const key of Object.keys(raw)) if (raw[key] === undefined) delete raw[key]
      const request = inCliTerms(() =>
        parseReportRequest(raw, {
          limits: { defaultTopN: config.reports.defaultTopN, maxTopN: config.reports.maxTopN },
          formats: REPORT_FORMATS,
          defaultFormat: 'json',
        }),
      )
      const store = await openReadingStore(config)
      try {
        const report = await generateReport(store, request, { now: new Date(), topErrors: config.reports.topErrorsPerAction, timeoutMs: config.reports.timeoutMs })
        const output = RENDERERS[request.format](report)
        if (options.output) {
          await writeFile(options.output, output)
          process.stderr.write(`wrote the ${report.period.kind} report (${report.summary.total} events) to ${options.output}\n`)
        } else {
          process.stdout.write(output)
        }
      } finally {
        await store.close()
      }
    })
}

/** A file's extension names its format (`report.html`); a terminal gets the table; a pipe gets JSON. */
function defaultFormat(output: string | undefined): ReportFormat {
  const extension = output === undefined ? '' : extname(output).slice(1).toLowerCase()
  if ((REPORT_FORMATS as readonly string[]).includes(extension)) return extension as ReportFormat
  if (output === undefined && process.stdout.isTTY) return 'table'
  return 'json'
}

/** The report parameters' wire names (shared with `GET /v1/reports`) → what a CLI user types. */
const CLI_NAMES: Record<string, string> = { date: '--date', from: '--from', to: '--to', tenant_id: '--tenant-id', top: '--top', format: '--format' }
const ASK_FOR_A_PERIOD = 'give a period (daily, weekly or monthly, with --date for a day other than today) or both --from and --to'

/**
 * `parseReportRequest` speaks in query-string terms (`period=daily`, `from`); on the command line
 * the period is an argument and the rest are flags, so its problems are restated in those terms.
 * Rules are matched by their stable `rule`, not their wording; any other message keeps its text.
 */
function inCliTerms<T>(parse: () => T): T {
  try {
    return parse()
  } catch (error) {
    if (!isAuditqError(error) || !Array.isArray(error.details)) throw error
    const problems = (error.details as FieldError[]).map(({ field, rule, message }) => {
      if (rule === 'required') return field === 'period' ? ASK_FOR_A_PERIOD : `${CLI_NAMES[field] ?? field}: missing; a custom range needs both --from and --to (or give a period instead)`
      if (rule === 'exclusive') return `${CLI_NAMES[field] ?? field}: give either a period (with --date) or --from and --to, not both`
      if (rule === 'requires') return `${CLI_NAMES[field] ?? field}: needs a period: daily, weekly or monthly`
      if (field === 'period') return `period: ${message}`
      return `${CLI_NAMES[field] ?? field}: ${message}`
    })
    throw new AuditqError(error.code, problems.join('; '), { details: error.details })
  }
}
