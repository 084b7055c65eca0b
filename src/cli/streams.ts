import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { AuditqError } from '../errors.js'
import { openStore } from '../store/open-store.js'
import { describeStream, streamAdminFor, type StreamAdmin } from '../stream/admin.js'
import type { StreamRecord } from '../stream/definition.js'
import { parseStreamBody } from '../stream/parse.js'
import { StoreFeed } from '../stream/store-feed.js'
import { streamFormatters } from '../stream/format.js'
import { packageVersion } from '../version.js'
import { commandConfig, storeLocation } from './context.js'
import { registerStreamsRun } from './streams-run.js'

/** The CLI manages every stream (it has the database's credentials): it is the admin caller. */
const ADMIN = { tenantId: null }

interface CreateOptions {
  sink: string
  url: string
  tenant?: string
  tenants?: string
  actions?: string
  categories?: string
  format?: string
  batchSize?: string
  secret?: string
  secretFile?: string
  token?: string
  tokenFile?: string
  gzip?: boolean
  preset?: string
  caFile?: string
  certFile?: string
  keyFile?: string
  servername?: string
  facility?: string
  timeoutMs?: string
  option?: string[]
}

/** `auditq streams create|list|show|pause|resume|delete|replay|run` (docs/streaming.md). */
export function registerStreams(program: Command): void {
  const streams = program.command('streams').description('durable subscriptions that push stored events to a SIEM (webhook, syslog, archive)')

  streams
    .command('create <name>')
    .description('create a stream; any running `auditq serve`, `auditq worker` or `auditq streams run` starts delivering it within seconds')
    .requiredOption('--sink <kind>', 'webhook, syslog or archive')
    .requiredOption('--url <url>', 'webhook: http(s)://…; syslog: tcp://host:port or tls://host:port (UDP is refused)')
    .option('--tenant <tenant>', "make it a tenant's stream: it sees only that tenant's events")
    .option('--tenants <globs>', 'comma-separated tenant globs (`*`, `?`)')
    .option('--actions <globs>', 'comma-separated action globs, e.g. "user.*,api_key.*"')
    .option('--categories <globs>', 'comma-separated: info, warning, critical')
    .option('--format <format>', 'json or ocsf', 'json')
    .option('--batch-size <n>', 'most events per delivery', '500')
    .option('--secret <secret>', 'webhook: HMAC-SHA256 signing secret (X-Auditq-Signature)')
    .option('--secret-file <file>', 'webhook: read the signing secret from a file')
    .option('--token <token>', 'webhook presets: Splunk HEC token or Datadog API key')
    .option('--token-file <file>', 'read the token from a file')
    .option('--preset <preset>', 'webhook: generic, splunk-hec or datadog', 'generic')
    .option('--gzip', 'webhook: gzip request bodies')
    .option('--ca-file <file>', 'PEM of the CA to trust for https/tls receivers')
    .option('--cert-file <file>', 'syslog tls: client certificate (PEM)')
    .option('--key-file <file>', 'syslog tls: client key (PEM)')
    .option('--servername <name>', "syslog tls: name to check the receiver's certificate against")
    .option('--facility <n>', 'syslog facility 0–23 (default 13, log audit)')
    .option('--timeout-ms <ms>', 'per-delivery timeout')
    .option('--option <key=value...>', 'any other sink option (repeatable)')
    .action(async (name: string, options: CreateOptions, command: Command) => {
      const sinkOptions: Record<string, string> = {}
      for (const pair of options.option ?? []) {
        const at = pair.indexOf('=')
        if (at < 1) throw new AuditqError('AUDITQ_STREAM_INVALID', `--option: "${pair}" is not key=value`)
        sinkOptions[pair.slice(0, at)] = pair.slice(at + 1)
      }
      const read = (file: string | undefined) => (file === undefined ? undefined : readFileSync(file, 'utf8').trim())
      const set = (key: string, value: string | undefined) => value !== undefined && (sinkOptions[key] = value)
      set('secret', options.secret ?? read(options.secretFile))
      set('token', options.token ?? read(options.tokenFile))
      if (options.sink === 'webhook') set('preset', options.preset)
      if (options.gzip) sinkOptions['gzip'] = 'true'
      set('ca_file', options.caFile)
      set('cert_file', options.certFile)
      set('key_file', options.keyFile)
      set('servername', options.servername)
      set('facility', options.facility)
      set('timeout_ms', options.timeoutMs)
      const definition = parseStreamBody({
        name,
        sink: options.sink,
        url: options.url,
        ...(options.tenant !== undefined ? { tenant: options.tenant } : {}),
        tenants: options.tenants ?? [],
        actions: options.actions ?? [],
        categories: options.categories ?? [],
        format: options.format,
        batch_size: options.batchSize,
        options: sinkOptions,
      })
      await withAdmin(command, async (admin) => {
        const created = await admin.create(ADMIN, definition)
        process.stderr.write(`created stream ${created.name} (${created.sink.kind} → ${created.sink.url}); a running service delivers it from the first stored event\n`)
      })
    })

  streams
    .command('list')
    .description('list streams with their state, position and last error')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      await withAdmin(command, async (admin) => {
        const records = await admin.list(ADMIN)
        if (options.json) return void process.stdout.write(JSON.stringify(records.map(describeStream), null, 2) + '\n')
        if (records.length === 0) return void process.stdout.write('no streams\n')
        const rows = [['NAME', 'SINK', 'STATE', 'DELIVERED', 'THROUGH', 'HOLDER', 'LAST ERROR'], ...records.map(row)]
        const widths = rows[0]!.map((_, column) => Math.max(...rows.map((r) => r[column]!.length)))
        process.stdout.write(rows.map((r) => r.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n') + '\n')
      })
    })

  streams
    .command('show <name>')
    .description("a stream's definition (secrets masked), position, lease and last error, as JSON")
    .action(async (name: string, _options: unknown, command: Command) => {
      await withAdmin(command, async (admin) => void process.stdout.write(JSON.stringify(describeStream(await admin.show(ADMIN, name)), null, 2) + '\n'))
    })

  for (const [verb, description] of [
    ['pause', 'stop delivering (the position is kept)'],
    ['resume', 'deliver again; a parked stream retries the batch it parked on'],
  ] as const) {
    streams
      .command(`${verb} <name>`)
      .description(description)
      .action(async (name: string, _options: unknown, command: Command) => {
        await withAdmin(command, async (admin) => {
          const stream = await admin[verb](ADMIN, name)
          process.stderr.write(`stream ${stream.name} is ${stream.state}\n`)
        })
      })
  }

  streams
    .command('delete <name>')
    .description('delete a stream and its replays (nothing is deleted from the store)')
    .action(async (name: string, _options: unknown, command: Command) => {
      await withAdmin(command, async (admin) => {
        await admin.delete(ADMIN, name)
        process.stderr.write(`deleted stream ${name}\n`)
      })
    })

  streams
    .command('replay <name>')
    .description('re-send history to the same sink from a time or a feed cursor, beside the live stream (whose position is untouched); ends once caught up')
    .requiredOption('--from <time|cursor>', 'ISO-8601 time (events that occurred from then on) or a feed cursor')
    .action(async (name: string, options: { from: string }, command: Command) => {
      const isTime = /^\d{4}-\d{2}-\d{2}/.test(options.from)
      await withAdmin(command, async (admin) => {
        const replay = await admin.replay(ADMIN, name, isTime ? { time: options.from } : { cursor: options.from })
        process.stderr.write(`started replay ${replay.name}; it is deleted once it has caught up\n`)
        process.stdout.write(`${replay.name}\n`)
      })
    })

  registerStreamsRun(streams)
}

function row(stream: StreamRecord): string[] {
  const holder = stream.lease_owner && stream.lease_expires_at && Date.parse(stream.lease_expires_at) > Date.now() ? stream.lease_owner : ''
  return [stream.name, `${stream.sink.kind} ${stream.sink.url}`, stream.state, String(stream.delivered), stream.delivered_through ?? '', holder, (stream.last_error ?? '').slice(0, 80)]
}

async function withAdmin(command: Command, fn: (admin: StreamAdmin) => Promise<void>): Promise<void> {
  const config = commandConfig(command)
  // Opening the store migrates it, which creates the stream table on a database that predates it.
  const store = await openStore(storeLocation(config))
  try {
    if (!store.streams) throw new AuditqError('AUDITQ_CONFIG', 'this store keeps no streams')
    await fn(streamAdminFor(store.streams, { formatters: streamFormatters({ ocsfClassMap: config.feed.ocsfClassMap, productVersion: packageVersion() }), ...(store.feed ? { feed: new StoreFeed(store.feed) } : {}) }))
  } finally {
    await store.close()
  }
}
