/** A feed page in the form a caller asked for: auditq's own (FeedEvents) or OCSF. */
import type { FeedEvent } from './feed-event.js'
import { toOcsf, type OcsfOptions } from './ocsf/map.js'

export type FeedFormat = 'json' | 'ocsf'

export const FEED_FORMATS: readonly FeedFormat[] = ['json', 'ocsf']

/** One event as the feed emits it; the OCSF form carries the event's own cursor in `unmapped.auditq.cursor`. */
export function formatFeedEvent(item: FeedEvent, format: FeedFormat, ocsf: OcsfOptions): unknown {
  if (format === 'json') return item
  const out = toOcsf(item, ocsf)
  ;((out.unmapped as { auditq: Record<string, unknown> }).auditq).cursor = item.cursor
  return out
}
