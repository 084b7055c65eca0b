/**
 * A producer child process, as an application would run one: either the built SDK (`dist/index.js`,
 * `createAuditLogger`) or an HTTP client posting batches to `auditq serve` with an API key.
 *
 * It offers `ratePerSecond` events with ids of its own (so the store can be checked id by id) and
 * appends the id of every acknowledged event to `ackFile` as soon as the acknowledgement arrives
 * (a synchronous write per ack: a producer that dies keeps what it was told). It stops offering on
 * SIGTERM or after `seconds`, waits for the calls still in flight, closes the SDK and prints one
 * line `DONE <json>` (sent, acked, errors by code) on stdout; `READY` comes first, once it can offer.
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import { v7 as uuidv7 } from 'uuid'

export interface ProducerSpec {
  kind: 'sdk' | 'http'
  ackFile: string
  ratePerSecond: number
  seconds: number
  /** Calls awaiting an answer at most; beyond it the producer waits instead of offering more. */
  maxInFlight: number
  /** sdk: createAuditLogger options (JSON-able). */
  sdkOptions?: Record<string, unknown>
  /** http: the service and an ingest key. */
  url?: string
  apiKey?: string
  eventsPerRequest?: number
}

const TICK_MS = 50
/** How long the calls still in flight at the end, and close(), may take before the producer gives up on them. */
const SETTLE_TIMEOUT_MS = 60_000

const spec = JSON.parse(process.argv[2]!) as ProducerSpec
const ackFd = openSync(spec.ackFile, 'a')
const errors: Record<string, number> = {}
let sent = 0
let acked = 0
let inFlight = 0
let stopping = false
process.once('SIGTERM', () => (stopping = true))

const countError = (error: unknown) => {
  const code = (error as { code?: string }).code ?? (error as Error).message?.slice(0, 60) ?? String(error)
  errors[code] = (errors[code] ?? 0) + 1
}
/** Slowest acknowledgement, ms: "log() neither hangs nor throws" is part of what is checked. */
let slowestAckMs = 0
const ack = (ids: string[], startedAt: number) => {
  slowestAckMs = Math.max(slowestAckMs, Date.now() - startedAt)
  if (ids.length === 0) return
  writeSync(ackFd, ids.join('\n') + '\n')
  acked += ids.length
}
const event = (n: number) => ({ id: uuidv7(), action: 'chaos.event', actor_id: `p${process.pid}-${n}`, category: 'info' })

const dist = new URL('../../../dist/index.js', import.meta.url).href
const sdk = spec.kind === 'sdk' ? await (await import(dist)).createAuditLogger(spec.sdkOptions ?? {}) : undefined
// The campaign's clock starts once every producer is ready: on a busy machine start-up alone can take seconds.
process.stdout.write('READY\n')

/** Offers `count` events as one unit of work (one log() each, or one HTTP request). */
function offer(count: number): void {
  const events = Array.from({ length: count }, () => event(sent++))
  const startedAt = Date.now()
  if (sdk) {
    for (const one of events) {
      inFlight++
      sdk.log(one).then(
        (id: string) => ack([id], startedAt),
        countError,
      ).finally(() => inFlight--)
    }
    return
  }
  inFlight += count
  fetch(`${spec.url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${spec.apiKey}` },
    body: JSON.stringify(events),
    signal: AbortSignal.timeout(30_000),
  })
    .then(async (response) => {
      const body = (await response.json().catch(() => ({}))) as { ids?: string[]; code?: string; rejected?: unknown[] }
      if (response.status === 202 || response.status === 200 || response.status === 201) {
        ack(body.ids ?? [], startedAt)
        const refused = count - (body.ids?.length ?? 0)
        if (refused > 0) errors.partly_rejected = (errors.partly_rejected ?? 0) + refused
      } else {
        errors[body.code ?? `HTTP_${response.status}`] = (errors[body.code ?? `HTTP_${response.status}`] ?? 0) + count
      }
    }, (error: unknown) => {
      errors[(error as Error).name === 'TimeoutError' ? 'http_timeout' : 'http_error'] = (errors[(error as Error).name === 'TimeoutError' ? 'http_timeout' : 'http_error'] ?? 0) + count
    })
    .finally(() => (inFlight -= count))
}

const started = Date.now()
const unit = spec.kind === 'http' ? (spec.eventsPerRequest ?? 20) : 1
let due = 0
while (!stopping && Date.now() - started < spec.seconds * 1000) {
  due += (spec.ratePerSecond * TICK_MS) / 1000
  while (due >= unit && inFlight + unit <= spec.maxInFlight) {
    offer(unit)
    due -= unit
  }
  // Offers missed while saturated are not made up later: a stalled pipeline sees fewer offers, as a real caller would.
  if (inFlight + unit > spec.maxInFlight) due = Math.min(due, unit)
  await new Promise((resolve) => setTimeout(resolve, TICK_MS))
}

const settleDeadline = Date.now() + SETTLE_TIMEOUT_MS
while (inFlight > 0 && Date.now() < settleDeadline) await new Promise((resolve) => setTimeout(resolve, 50))
const unanswered = inFlight
let closeError: string | undefined
if (sdk) {
  await Promise.race([
    sdk.close().catch((error: Error) => (closeError = error.message)),
    new Promise((resolve) => setTimeout(resolve, SETTLE_TIMEOUT_MS)).then(() => (closeError = 'close() did not return within 60 s')),
  ])
}
closeSync(ackFd)
const stats = sdk ? sdk.stats() : undefined
process.stdout.write(`DONE ${JSON.stringify({ sent, acked, unanswered, slowestAckMs, errors, closeError, stats })}\n`)
process.exit(0)
