import type { Command } from 'commander'
import { writeFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { generateReport } from '../report/generate.js'
import { parseReportRequest, REPORT_FORMATS, type ReportFormat } from '../report/params.js'
import { RENDERERS } from '../report/render/index.js'
import { openStore } from '../store/open-store.js'
import { commandConfig, storeLocation } from './context.js'

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('summarize a period: totals, success rate, categories, top actors/actions/resource types, failures, timeline')
    .argument('[period]', 'daily | weekly (ISO, Monday start) | monthly, in UTC; or use --from/--to')
    .option('--date <YYYY-MM-DD>', 'a day inside the period (default: today, UTC)')
    .option('--from <time>', 'custom range start, inclusive (ISO-8601, date or epoch ms)')
    .option('--to <time>', 'custom range end, exclusive')
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
      const request = parseReportRequest(raw, {
        limits: { defaultTopN: config.reports.defaultTopN, maxTopN: config.reports.maxTopN },
        formats: REPORT_FORMATS,
        defaultFormat: 'json',
      })
      const store = await openStore(storeLocation(config))
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
