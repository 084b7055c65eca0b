import type { StreamRecord } from '../definition.js'
import { invalid } from '../definition.js'
import type { Formatters } from '../format.js'
import type { StreamSink } from '../sink.js'
import { archiveOptions } from './archive/from-definition.js'
import { SyslogSink, syslogOptions } from './syslog/syslog-sink.js'
import { WebhookSink, webhookOptions } from './webhook/webhook-sink.js'

/** Builds one stream's sink from its stored definition; kinds this build cannot serve are refused. */
export type SinkFactory = (stream: Pick<StreamRecord, 'name' | 'sink' | 'format'>) => StreamSink

/** Sinks of other kinds (the archive) are registered by whoever wires the service. */
export function sinkFactory(formatters: Formatters, extra: Partial<Record<'archive', SinkFactory>> = {}): SinkFactory {
  return (stream) => {
    const formatter = formatters[stream.format]
    if (!formatter) throw invalid('format', 'available', `format "${stream.format}" is not available in this build`)
    const name = stream.name.replace(/~.*$/, '')
    switch (stream.sink.kind) {
      case 'webhook':
        return new WebhookSink(webhookOptions(stream.sink.url, name, stream.sink.options, formatter))
      case 'syslog':
        return new SyslogSink(syslogOptions(stream.sink.url, name, stream.sink.options, formatter))
      case 'archive': {
        const archive = extra.archive
        if (!archive) throw invalid('sink', 'available', 'the archive sink is not available in this build')
        return archive(stream)
      }
    }
  }
}

/** Validates a definition's sink options at create time (the same parsing the sink does when built). */
export function checkSinkOptions(definition: Pick<StreamRecord, 'name' | 'sink' | 'format'>, formatters: Formatters, kinds: readonly string[] = ['webhook', 'syslog', 'archive']): void {
  if (!formatters[definition.format]) throw invalid('format', 'available', `format "${definition.format}" is not available in this build`)
  if (!kinds.includes(definition.sink.kind)) throw invalid('sink', 'available', `the ${definition.sink.kind} sink is not available in this build`)
  const formatter = formatters[definition.format]!
  if (definition.sink.kind === 'webhook') webhookOptions(definition.sink.url, definition.name, definition.sink.options, formatter)
  if (definition.sink.kind === 'syslog') syslogOptions(definition.sink.url, definition.name, definition.sink.options, formatter)
  if (definition.sink.kind === 'archive') archiveOptions(definition.sink.url, definition.sink.options)
}
