/**
 * Request shapes: auditq's own signed NDJSON, and the documented intake formats of Splunk's HTTP
 * Event Collector and Datadog's logs API, so a stream can post straight to them.
 */
import { hostname } from 'node:os'
import type { WebhookPreset } from '../../definition.js'
import { formatLine, type EventFormatter } from '../../format.js'
import type { FeedEvent } from '../../sink.js'

export interface PresetRequest {
  contentType: string
  body: Buffer
  headers: Record<string, string>
}

export interface PresetOptions {
  token?: string
  streamName: string
  formatter: EventFormatter
}

export function presetRequest(preset: WebhookPreset, batch: readonly FeedEvent[], options: PresetOptions): PresetRequest {
  // Each event's JSON text, shared with other streams sending the same event in the same format.
  const lines = batch.map((entry) => formatLine(options.formatter, entry))
  switch (preset) {
    case 'generic':
      return { contentType: 'application/x-ndjson', body: Buffer.from(lines.join('\n') + '\n'), headers: {} }
    case 'splunk-hec': {
      // HEC's /services/collector/event takes several event objects one after another in one body;
      // `time` is epoch seconds (fractions allowed).
      const host = hostname()
      // The event's text goes in as it is: the same bytes JSON.stringify would write for the object.
      const body = batch
        .map((entry, i) => `${JSON.stringify({ time: Date.parse(entry.event.occurred_at) / 1000, host, source: 'auditq', sourcetype: 'auditq:event' }).slice(0, -1)},"event":${lines[i]}}`)
        .join('\n')
      return { contentType: 'application/json', body: Buffer.from(body), headers: { authorization: `Splunk ${options.token ?? ''}` } }
    }
    case 'datadog': {
      // Logs intake v2: a JSON array of log objects; `message` is what Datadog indexes and parses
      // as JSON, the reserved attributes tag it. At most 1000 entries and 5 MB per request.
      const host = hostname()
      const body = JSON.stringify(
        batch.map((entry, i) => ({
          ddsource: 'auditq',
          service: 'auditq',
          hostname: host,
          ddtags: `tenant:${entry.event.tenant_id},category:${entry.event.category},stream:${options.streamName}`,
          message: lines[i],
        })),
      )
      return { contentType: 'application/json', body: Buffer.from(body), headers: { 'dd-api-key': options.token ?? '' } }
    }
  }
}
