/**
 * `auditq tail`: the feed on stdout, one event per line (NDJSON), oldest first, straight from the
 * store. Without --follow it prints what is stored after the cursor and says on stderr where to
 * continue; with --follow it keeps waiting for new events until interrupted.
 */
import type { Command } from 'commander'
import { once } from 'node:events'
import { AuditqError } from '../errors.js'
import { decodeFeedCursor, encodeFeedCursor } from '../feed/cursor.js'
import { startPosition } from '../feed/feed-event.js'
import { FEED_FORMATS, formatFeedEvent, type FeedFormat } from '../feed/format.js'
import { DEFAULT_CLASS_TABLE, parseClassTable } from '../feed/ocsf/class-table.js'
import { waitForFeedPage } from '../feed/read.js'
import { packageVersion } from '../version.js'
import { commandConfig, openExistingStore } from './context.js'
import { stdoutReaderGone } from './stdout.js'
import { recordCliAccess } from './trail.js'

/** How long one --follow wait lasts before it reads again anyway (it returns as soon as events arrive). */
const FOLLOW_WAIT_MS = 30_000

export function registerTail(program: Command): void {
  program
    .command('tail')
    .description('print stored events oldest first, each exactly once, from a cursor (NDJSON); --follow keeps printing new ones')
    .option('--follow', 'keep waiting for new events until interrupted (delivers within ~AUDITQ_FEED_POLL_MS of a commit)')
    .option('--after <cursor>', 'start after this cursor (from a previous run, or an event\'s `cursor`)')
    .option('--tenant <id>', 'one tenant\'s feed (its chain order); omit for every tenant but auditq\'s own access trail (name its tenant to read it)')
    .option('--format <format>', `${FEED_FORMATS.join(' | ')}: auditq's own {event, seq, hash, cursor} or OCSF 1.x`, 'json')
    .option('--limit <n>', 'events per read', '500')
    .addHelpText(
      'after',
      '\nEach line of --format json is {"event":…,"seq":…,"hash":…,"cursor":…}; pass a line\'s cursor to --after to resume after it.\nOCSF lines carry it in unmapped.auditq.cursor. See docs/feed.md.',
    )
    .action(async (options: { follow?: boolean; after?: string; tenant?: string; format: string; limit: string }, command: Command) => {
      const config = commandConfig(command)
      const format = options.format as FeedFormat
      if (!(FEED_FORMATS as readonly string[]).includes(format)) throw new AuditqError('AUDITQ_BAD_REQUEST', `--format must be ${FEED_FORMATS.join(' or ')}`)
      const limit = Number(options.limit)
      if (!Number.isInteger(limit) || limit < 1 || limit > config.feed.maxLimit) {
        throw new AuditqError('AUDITQ_BAD_REQUEST', `--limit must be an integer from 1 to ${config.feed.maxLimit}`)
      }
      if (options.tenant === '') throw new AuditqError('AUDITQ_BAD_REQUEST', '--tenant must not be empty')
      let after = options.after === undefined ? startPosition(options.tenant) : decodeFeedCursor(options.after, options.tenant)
      const ocsf = {
        classTable: config.feed.ocsfClassMap === undefined ? DEFAULT_CLASS_TABLE : parseClassTable(config.feed.ocsfClassMap),
        productVersion: packageVersion(),
      }
      const store = await openExistingStore(config)
      const stop = new AbortController()
      const onSignal = () => stop.abort()
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      let next: string | undefined
      let caughtUp = false
      try {
        if (!store.feed) throw new AuditqError('AUDITQ_CONFIG', `the ${store.kind} store offers no feed`)
        // One command, one record, written before the first read (a follow that runs for days is
        // still one access). Where it starts is not part of what was asked, as over HTTP.
        await recordCliAccess(store, config, 'feed.read', options.tenant ?? null, {
          ...(options.tenant !== undefined ? { tenant_id: options.tenant } : {}),
          format,
          follow: options.follow === true,
        })
        for (;;) {
          const from = encodeFeedCursor(after)
          const page = await waitForFeedPage(store.feed, after, limit, {
            // Read without waiting until a page comes back empty: only then is everything stored printed.
            waitMs: options.follow && caughtUp ? FOLLOW_WAIT_MS : 0,
            pollMs: config.feed.pollMs,
            signal: stop.signal,
            // As over HTTP: every tenant but auditq's own trail, which is read by naming it.
            skipTenant: config.access.systemTenant,
          })
          if (page.events.length > 0) {
            const text = page.events.map((item) => JSON.stringify(formatFeedEvent(item, format, ocsf)) + '\n').join('')
            if (!process.stdout.write(text)) await once(process.stdout, 'drain')
          }
          next = page.next
          after = decodeFeedCursor(page.next, options.tenant)
          if (stop.signal.aborted || stdoutReaderGone()) break
          // Caught up only when the read moved nothing: a page can be empty yet move on, past
          // positions retention deleted or the access trail's, which this feed leaves out.
          const atEnd = page.events.length === 0 && page.next === from
          if (!options.follow && atEnd) break
          if (options.follow && !caughtUp && atEnd) {
            // Once, so a person (or a script) knows everything stored so far has been printed.
            caughtUp = true
            process.stderr.write('auditq tail: caught up, waiting for new events\n')
          }
        }
      } finally {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
        await store.close()
      }
      if (next !== undefined) process.stderr.write(`next: --after ${next}\n`)
    })
}
