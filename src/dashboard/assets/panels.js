// @ts-check
/** The status line, its reasons, and the pipeline figure cards with their sparklines. */
import { createSparkline, drawSparkline } from './charts.js'
import { byId, el, formatAge, formatCount, formatRate } from './dom.js'

/** Any status the page does not know is treated as bad: an on-call person must not read it as fine. @param {unknown} status */
export function statusLevel(status) {
  if (status === 'healthy') return 'ok'
  if (status === 'warning' || status === 'degraded') return 'warn'
  return 'bad'
}

/**
 * @typedef {Record<string, any>} Metrics
 * @typedef {{ key: string, label: string, value: (m: Metrics) => string, sub?: (m: Metrics) => string,
 *   level?: (m: Metrics) => 'ok' | 'warn' | 'bad', history?: string }} Card
 */

const positive = (/** @type {unknown} */ v) => typeof v === 'number' && v > 0

/** @type {Card[]} */
const CARDS = [
  { key: 'queue_length', label: 'Queue depth', value: (m) => formatCount(m.queue_length), sub: (m) => (m.mode === 'direct' ? 'in-process (direct mode)' : 'events waiting in Redis'), history: 'queue_length' },
  { key: 'oldest_event_age_seconds', label: 'Oldest event waiting', value: (m) => formatAge(m.oldest_event_age_seconds), level: (m) => (m.oldest_event_age_seconds > 60 ? 'bad' : m.oldest_event_age_seconds > 10 ? 'warn' : 'ok'), history: 'oldest_event_age_seconds' },
  { key: 'ingest_rate_per_second', label: 'Ingest rate', value: (m) => `${formatRate(m.ingest_rate_per_second)}/s`, sub: () => 'events accepted', history: 'ingest_rate_per_second' },
  { key: 'store_rate_per_second', label: 'Store rate', value: (m) => `${formatRate(m.store_rate_per_second)}/s`, sub: () => 'events committed', history: 'store_rate_per_second' },
  { key: 'current_batch_size', label: 'Batch size', value: (m) => formatCount(m.current_batch_size), sub: (m) => `avg batch time ${formatRate(m.avg_batch_time_ms)} ms`, history: 'avg_batch_size' },
  { key: 'inserts_last_minute', label: 'Stored, last minute', value: (m) => formatCount(m.inserts_last_minute) },
  { key: 'failures_last_minute', label: 'Failures, last minute', value: (m) => formatCount(m.failures_last_minute), level: (m) => (positive(m.failures_last_minute) ? 'bad' : 'ok') },
  { key: 'total_dropped_events', label: 'Dropped', value: (m) => formatCount(m.total_dropped_events), sub: () => 'refused, never stored', level: (m) => (positive(m.total_dropped_events) ? 'bad' : 'ok'), history: 'total_dropped_events' },
  { key: 'total_overflow_events', label: 'Overflowed', value: (m) => formatCount(m.total_overflow_events), sub: () => 'over the queue cap', level: (m) => (positive(m.total_overflow_events) ? 'warn' : 'ok'), history: 'total_overflow_events' },
  { key: 'total_spilled_events', label: 'Spilled to disk', value: (m) => formatCount(m.total_spilled_events), sub: () => 'local journal, replayed later', level: (m) => (positive(m.total_spilled_events) ? 'warn' : 'ok'), history: 'total_spilled_events' },
  { key: 'dead_letters', label: 'Dead letters', value: (m) => formatCount(m.dead_letters), sub: () => 'store refused (DLQ)', level: (m) => (positive(m.dead_letters) ? 'bad' : 'ok'), history: 'dead_letters' },
  { key: 'live_workers', label: 'Live workers', value: (m) => (m.mode === 'direct' ? 'n/a' : formatCount(m.live_workers)), sub: (m) => (m.mode === 'direct' ? 'direct mode: no queue workers' : 'heartbeating'), level: (m) => (m.mode === 'queue' && m.live_workers === 0 ? 'bad' : 'ok'), history: 'live_workers' },
]

/** @type {Map<string, { value: HTMLElement, sub: HTMLElement, spark: SVGSVGElement | null, card: HTMLElement }>} */
const cardNodes = new Map()

/** Builds the card grid once; later updates only change text and paths. */
export function buildCards() {
  const grid = byId('cards')
  for (const card of CARDS) {
    const value = el('div', { className: 'value', text: '–' })
    const sub = el('div', { className: 'sub' })
    const spark = card.history ? createSparkline() : null
    const node = el('div', { className: 'card', attrs: { 'data-metric': card.key } }, [el('div', { className: 'label', text: card.label }), value, sub, ...(spark ? [spark] : [])])
    cardNodes.set(card.key, { value, sub, spark, card: node })
    grid.append(node)
  }
}

/**
 * @param {Metrics | null} metrics null when the figures are unavailable
 * @param {Record<string, any>[]} samples history, oldest first
 */
export function renderCards(metrics, samples) {
  for (const card of CARDS) {
    const nodes = cardNodes.get(card.key)
    if (!nodes) continue
    nodes.value.textContent = metrics ? card.value(metrics) : '–'
    nodes.sub.textContent = metrics && card.sub ? card.sub(metrics) : ''
    nodes.card.dataset.level = metrics && card.level ? card.level(metrics) : 'ok'
    if (nodes.spark && card.history) {
      const field = card.history
      drawSparkline(nodes.spark, samples.map((s) => s[field]))
    }
  }
}

/**
 * @param {{ status: unknown, issues: unknown, recommendations?: unknown }} health
 */
export function renderStatus(health) {
  const status = typeof health.status === 'string' ? health.status : 'unknown'
  const level = statusLevel(status)
  const badge = byId('status')
  badge.dataset.status = status
  badge.dataset.level = level
  byId('status-text').textContent = status
  const severity = level === 'bad' ? 'critical' : 'warning'
  // The public health answer names no reasons; only a key with the admin scope sees them.
  const reasons = !Array.isArray(health.issues)
    ? [el('li', { className: 'muted', text: 'Reasons are shown to keys with the admin scope.' })]
    : health.issues.length > 0
      ? health.issues.map((issue) => el('li', { text: String(issue), attrs: { 'data-severity': severity } }))
      : [el('li', { className: 'muted', text: 'No issues reported.' })]
  byId('status-reasons').replaceChildren(...reasons)
  const recommendations = Array.isArray(health.recommendations) ? health.recommendations : []
  byId('recommendations').replaceChildren(
    ...recommendations.map((r) => el('li', { text: `${String(r?.severity ?? 'info')}: ${String(r?.message ?? '')}`, attrs: { 'data-severity': String(r?.severity ?? 'info') } })),
  )
}

/** The service could not be asked at all. @param {string} reason */
export function renderUnreachable(reason) {
  renderStatus({ status: 'unreachable', issues: [reason] })
}
