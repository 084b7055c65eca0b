/**
 * Cost of crypto-shredding: the same work with shredding off and on, in the same run, alternating
 * which goes first, on a fresh store each time.
 *  - ingest:  the SDK in direct mode, 128 concurrent `log()` callers, events of 1,000 subjects,
 *             each seen once before the clock starts (keys exist and are cached): events/s;
 *  - export:  `stream()` over every stored event (reveal: one key lookup per 500 events): events/s;
 *  - seal:    the sealing step alone, warm cache, µs per event (4 fields: subject, IP, UA, one metadata key);
 *  - first:   sealing an event of a subject never seen (creates and stores its key): µs.
 *
 *   npm run bench:shred -- --stores postgres,embedded --seconds 5 --runs 3
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import type { AuditEvent } from '../src/event/types.js'
import { validateEvent } from '../src/event/validate.js'
import { createAuditLogger } from '../src/sdk/audit-logger.js'
import type { ShreddingOptions } from '../src/shred/options.js'
import { withShredding } from '../src/store/shredding-store.js'
import type { Store } from '../src/store/store.js'
import { sampleEvent } from './event.js'
import { openFreshStore } from './fresh-store.js'
import { median, printTable } from './stats.js'

const { values } = parseArgs({
  options: {
    stores: { type: 'string', default: 'postgres,embedded' },
    seconds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
})
const durationMs = Number(values.seconds) * 1000
const runs = Number(values.runs)

const shredding: ShreddingOptions = {
  subjectField: 'actor_id',
  fields: ['ip_address', 'user_agent', 'metadata.key_name'],
  masterKey: randomBytes(32),
  keyCacheTtlMs: 30_000,
}

let counter = 0

async function ingest(store: Store, on: boolean): Promise<number> {
  const audit = await createAuditLogger({ store, ...(on ? { shredding } : {}) })
  // Steady state: every subject has been seen (its key exists and is cached); the cost of a
  // subject's first event is measured apart (`first`).
  await audit.logBulk(Array.from({ length: 1000 }, (_, i) => sampleEvent(i, 'w')))
  let stored = 0
  const deadline = performance.now() + durationMs
  const started = performance.now()
  await Promise.all(
    Array.from({ length: 128 }, async () => {
      while (performance.now() < deadline) {
        await audit.log(sampleEvent(counter++, 's'))
        stored += 1
      }
    }),
  )
  const rate = stored / ((performance.now() - started) / 1000)
  await audit.close()
  return rate
}

async function exportRate(store: Store, on: boolean): Promise<number> {
  const reading = on ? withShredding(store, shredding).store : store
  let read = 0
  const started = performance.now()
  for await (const _event of reading.stream({})) read += 1
  return read / ((performance.now() - started) / 1000)
}

function validated(i: number, subject: string): AuditEvent {
  const result = validateEvent({ ...sampleEvent(i, 'm'), actor_id: subject }, { defaultTenant: 'default', receivedAt: new Date() })
  if (!result.ok) throw new Error('bench event invalid')
  return result.event
}

async function sealMicros(store: Store): Promise<{ warm: number; first: number }> {
  const { shredder } = withShredding(store, shredding)
  const warmEvents = Array.from({ length: 20_000 }, (_, i) => validated(i, `user-${i % 1000}`))
  await shredder.seal(warmEvents.slice(0, 1000)) // every subject's key created and cached
  let started = performance.now()
  await shredder.seal(warmEvents)
  const warm = ((performance.now() - started) * 1000) / warmEvents.length
  const firsts = Array.from({ length: 300 }, (_, i) => validated(i, `new-${counter++}-${i}`))
  started = performance.now()
  for (const event of firsts) await shredder.seal([event])
  const first = ((performance.now() - started) * 1000) / firsts.length
  return { warm, first }
}

const rows: string[][] = []
for (const kind of values.stores.split(',')) {
  const rates = { ingestOff: [] as number[], ingestOn: [] as number[], exportOff: [] as number[], exportOn: [] as number[], warm: [] as number[], first: [] as number[] }
  for (let run = 0; run < runs; run++) {
    const order = run % 2 === 0 ? [false, true] : [true, false]
    for (const on of order) {
      const { store, dispose } = await openFreshStore({ kind, databaseUrl: values['database-url'], tag: 'shred' })
      try {
        ;(on ? rates.ingestOn : rates.ingestOff).push(await ingest(store, on))
        ;(on ? rates.exportOn : rates.exportOff).push(await exportRate(store, on))
        if (on) {
          const micros = await sealMicros(store)
          rates.warm.push(micros.warm)
          rates.first.push(micros.first)
        }
      } finally {
        await dispose()
      }
    }
    process.stderr.write(`${kind}: run ${run + 1}/${runs} done\n`)
  }
  const ratio = (on: number[], off: number[]) => `${((median(on) / median(off)) * 100).toFixed(0)} %`
  rows.push([kind, 'ingest (direct, 128 callers), events/s', median(rates.ingestOff).toFixed(0), median(rates.ingestOn).toFixed(0), ratio(rates.ingestOn, rates.ingestOff)])
  rows.push([kind, 'export stream, events/s', median(rates.exportOff).toFixed(0), median(rates.exportOn).toFixed(0), ratio(rates.exportOn, rates.exportOff)])
  rows.push([kind, 'seal, warm key cache, µs/event', '—', median(rates.warm).toFixed(1), ''])
  rows.push([kind, 'seal, new subject (creates its key), µs/event', '—', median(rates.first).toFixed(0), ''])
}
printTable(['store', 'measure', 'off', 'on', 'on / off'], rows)
