/**
 * CPU cost of an event's content digest (canonical form + SHA-256, what every chained insert
 * computes per event in Node) under auditq.v1 and auditq.v2, in the same process, alternating
 * which goes first, median of several runs. Two event shapes: the typical `log()` event (none of
 * the fields auditq.v2 added), and one that uses them (actor name, two targets, one change,
 * producer id and sequence).
 *
 *   npm run bench:canonical -- --events 100000 --runs 7
 */
import { parseArgs } from 'node:util'
import { validateEvent } from '../src/event/validate.js'
import type { AuditEvent } from '../src/event/types.js'
import { canonicalEvent, contentDigest, type CanonicalVersion } from '../src/integrity/canonical.js'
import { sampleEvent } from './event.js'
import { median, printTable } from './stats.js'

const { values } = parseArgs({ options: { events: { type: 'string', default: '100000' }, runs: { type: 'string', default: '7' } } })
const count = Number(values.events)
const runs = Number(values.runs)

function events(withAdded: boolean): AuditEvent[] {
  const receivedAt = new Date()
  return Array.from({ length: count }, (_, i) => {
    const input = withAdded
      ? {
          ...sampleEvent(i),
          actor_name: `User ${i % 1000}`,
          targets: [{ type: 'api_key', id: `key-${i}`, name: 'ci' }, { type: 'project', id: 'p1' }],
          changes: { scopes: { before: ['read'], after: ['read', 'write'] } },
          producer_id: 'bench-producer',
          producer_seq: i + 1,
        }
      : sampleEvent(i)
    const result = validateEvent(input, { receivedAt })
    if (!result.ok) throw new Error(JSON.stringify(result.errors))
    return result.event
  })
}

/** µs per event for the content digests of `batch` under `version` (the same hashing path for both). */
function measure(batch: AuditEvent[], version: CanonicalVersion): number {
  const start = process.hrtime.bigint()
  let sink = 0
  for (const event of batch) sink += contentDigest(event, version)[0]!
  const elapsed = Number(process.hrtime.bigint() - start) / 1000
  if (sink < 0) console.log(sink)
  return elapsed / batch.length
}

const rows: string[][] = []
for (const withAdded of [false, true]) {
  const batch = events(withAdded)
  const v1: number[] = []
  const v2: number[] = []
  for (let run = 0; run < runs; run++) {
    // Alternate the order, so warm-up and machine noise do not favour one side.
    if (run % 2 === 0) {
      v1.push(measure(batch, 1))
      v2.push(measure(batch, 2))
    } else {
      v2.push(measure(batch, 2))
      v1.push(measure(batch, 1))
    }
  }
  const [m1, m2] = [median(v1), median(v2)]
  const bytes = (version: CanonicalVersion) => Buffer.byteLength(canonicalEvent(batch[0]!, version))
  rows.push([withAdded ? 'with added fields' : 'typical (no added fields)', `${bytes(1)} / ${bytes(2)}`, m1.toFixed(2), m2.toFixed(2), (m2 / m1).toFixed(2)])
}
printTable(['event', 'canonical bytes v1 / v2', 'µs/event v1', 'µs/event v2', 'v2 / v1'], rows)
