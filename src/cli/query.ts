import type { Command } from 'commander'
import { createWriteStream } from 'node:fs'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { AuditqError } from '../errors.js'
import { csvHeader, csvRow } from '../query/csv.js'
import { parseEventFilter } from '../query/filter.js'
import { parseSearch } from '../query/search/syntax.js'
import { renderTable } from '../query/table.js'
import { decodeCursor, encodeCursor } from '../store/cursor.js'
import { addFilterFlags, commandConfig, filterFromFlags, openReadingStore } from './context.js'
import { progress } from './progress.js'
import { bundleLines } from '../integrity/proofs.js'
import type { AuditEvent } from '../event/types.js'

export function registerQuery(program: Command): void {
  addFilterFlags(
    program
      .command('query')
      .description('list events, newest first (a readable table by default)')
      .option('--limit <n>', 'events per page (1–1000)', '50')
      .option('--cursor <cursor>', 'continue after a previous page')
      .option('--format <format>', 'table | json | csv', 'table')
      .option('--search <query>', 'word search: words, "quoted phrases", -word to exclude (docs/http-api.md, Word search)'),
  ).action(async (options: Record<string, string>, command: Command) => {
    const config = commandConfig(command)
    const filter = parseEventFilter(filterFromFlags(options))
    if (options.search !== undefined) filter.search = parseSearch(options.search, '--search')
    const limit = Number(options.limit)
    if (!Number.isInteger(limit) || limit < 1 || limit > config.http.maxQueryLimit) {
      throw new AuditqError('AUDITQ_BAD_REQUEST', `--limit must be an integer from 1 to ${config.http.maxQueryLimit}`)
    }
    const format = options.format
    if (format !== 'table' && format !== 'json' && format !== 'csv') {
      throw new AuditqError('AUDITQ_BAD_REQUEST', '--format must be table, json or csv')
    }
    const store = await openReadingStore(config)
    try {
      const page = await store.query(filter, {
        limit,
        ...(options.cursor ? { after: decodeCursor(options.cursor) } : {}),
      })
      const nextCursor = page.next ? encodeCursor(page.next) : null
      if (format === 'json') {
        process.stdout.write(JSON.stringify({ events: page.events, next_cursor: nextCursor }, null, 2) + '\n')
      } else if (format === 'csv') {
        process.stdout.write(csvHeader() + page.events.map(csvRow).join(''))
      } else {
        process.stdout.write(page.events.length === 0 ? 'no events match\n' : renderTable(page.events))
      }
      if (nextCursor && format !== 'json') process.stderr.write(`more: --cursor ${nextCursor}\n`)
    } finally {
      await store.close()
    }
  })
}

export function registerExport(program: Command): void {
  addFilterFlags(
    program
      .command('export')
      .description('stream every matching event as NDJSON or CSV (constant memory)')
      .option('--format <format>', 'ndjson | csv', 'ndjson')
      .option('--proof', 'write a proof bundle instead: the events with Merkle inclusion proofs, consistency proofs and the signed checkpoints (see `verify-bundle`)')
      .option('--output <file>', 'write to a file instead of stdout'),
  ).action(async (options: Record<string, string>, command: Command) => {
    const config = commandConfig(command)
    const filter = parseEventFilter(filterFromFlags(options))
    const format = options.format
    if (format !== 'ndjson' && format !== 'csv') throw new AuditqError('AUDITQ_BAD_REQUEST', '--format must be ndjson or csv')
    if (options.proof && format !== 'ndjson') throw new AuditqError('AUDITQ_BAD_REQUEST', '--proof writes a bundle (NDJSON); leave out --format csv')
    const store = await openReadingStore(config)
    let count = 0
    // On a terminal only, and not when the events themselves are printed to that terminal.
    const bar = progress({ label: 'export', enabled: process.stderr.isTTY === true && !(options.output === undefined && process.stdout.isTTY === true) })
    try {
      async function* lines(): AsyncGenerator<string> {
        if (options.proof) {
          for await (const line of bundleLines(store.integrity, counted(store.stream(filter)), { filter: filterFromFlags(options) })) yield line
          return
        }
        if (format === 'csv') yield csvHeader()
        for await (const event of store.stream(filter)) {
          count += 1
          bar.tick()
          yield format === 'csv' ? csvRow(event) : JSON.stringify(event) + '\n'
        }
      }
      async function* counted(events: AsyncIterable<AuditEvent>): AsyncGenerator<AuditEvent> {
        for await (const event of events) {
          count += 1
          bar.tick()
          yield event
        }
      }
      const sink: Writable = options.output ? createWriteStream(options.output) : process.stdout
      await pipeline(Readable.from(lines()), sink, { end: Boolean(options.output) })
      bar.done()
      if (options.output) process.stderr.write(`exported ${count} events to ${options.output}\n`)
    } finally {
      await store.close()
    }
  })
}
