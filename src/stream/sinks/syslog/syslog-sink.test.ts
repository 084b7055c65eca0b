/**
 * The syslog sink through a real rsyslogd, over plain TCP (RFC 6587 octet counting) and TLS
 * (RFC 5425, a CA and certificate made with openssl here): every event arrives once, in order,
 * with its id in the structured data and the event JSON as the message.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { storedEvent } from '../../../../test/support/events.js'
import { makeCertificates, Rsyslog, rsyslogAvailable, type TlsFiles } from '../../../../test/support/rsyslog.js'
import { validateDefinition } from '../../definition.js'
import { jsonRecord } from '../../format.js'
import { SinkError, type FeedEvent } from '../../sink.js'
import { octetCounted, syslogMessage } from './rfc5424.js'
import { SyslogSink, syslogOptions } from './syslog-sink.js'

function feedEvents(count: number): FeedEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    event: storedEvent({ tenant_id: 'acme', action: i % 2 ? 'user.login' : 'doc "x"]\\', description: `ünïcödé ${i}`, metadata: { i } }),
    seq: i + 1,
    hash: 'ab'.repeat(32),
    cursor: `c${i}`,
  }))
}

/** `MSGID [SD] MSG` lines as written by the receiver's template. */
function parse(line: string): { id: string; seq: number; body: Record<string, unknown> } {
  const match = /^\S+ \[auditq@32473 id="([^"]+)" tenant="acme" seq="(\d+)" stream="siem" action="(?:[^"\\]|\\.)*"\] (.*)$/.exec(line)
  if (!match) throw new Error(`unexpected line: ${line}`)
  return { id: match[1]!, seq: Number(match[2]), body: JSON.parse(match[3]!) as Record<string, unknown> }
}

async function until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('RFC 5424 framing', () => {
  it('escapes structured-data values and counts octets, not characters', () => {
    const [entry] = feedEvents(1)
    const message = syslogMessage(entry!, 'ü', { facility: 13, hostname: 'h o', procId: '1', streamName: 's' })
    expect(message).toMatch(/^<110>1 \S+ h_o auditq 1 doc_"x"]\\ \[auditq@32473 id="[^"]+" tenant="acme" seq="1" stream="s" action="doc \\"x\\"\\]\\\\"\] ü$/)
    const frame = octetCounted(message)
    expect(frame.toString('utf8')).toBe(`${Buffer.byteLength(message)} ${message}`)
  })

  it('refuses UDP and says why', () => {
    const definition = { name: 's', owner_tenant: null, sink: { kind: 'syslog' as const, url: 'udp://127.0.0.1:514', options: {} }, filter: { tenants: [], actions: [], categories: [] }, format: 'json' as const, batch_size: 10 }
    expect(() => validateDefinition(definition)).toThrow(/UDP loses messages silently/)
  })
})

describe.each([{ tls: false }, { tls: true }])('syslog sink through rsyslogd (tls: $tls)', ({ tls }) => {
  const available = rsyslogAvailable({ tls })
  const certDir = mkdtempSync(join(tmpdir(), 'auditq-certs-'))
  let certs: TlsFiles | null = null
  let rsyslog: Rsyslog

  beforeAll(async () => {
    if (!available) return
    certs = tls ? makeCertificates(certDir) : null
    rsyslog = new Rsyslog(certs)
    await rsyslog.start()
  })
  afterAll(async () => {
    await rsyslog?.dispose()
    rmSync(certDir, { recursive: true, force: true })
  })

  it('delivers every event once and in order, ids in the structured data', async (ctx) => {
    if (!available) return ctx.skip()
    const url = `${tls ? 'tls' : 'tcp'}://127.0.0.1:${rsyslog.port}`
    const sink = new SyslogSink(syslogOptions(url, 'siem', certs ? { ca_file: certs.ca } : {}, jsonRecord))
    const events = feedEvents(1_000)
    for (let i = 0; i < events.length; i += 100) await sink.deliver(events.slice(i, i + 100), { signal: new AbortController().signal })
    await sink.close()
    await until(() => rsyslog.lines().length >= 1_000)
    const received = rsyslog.lines().map(parse)
    expect(received.length).toBe(1_000)
    expect(received.map((r) => r.id)).toEqual(events.map((e) => e.event.id))
    expect(received.map((r) => r.seq)).toEqual(events.map((e) => e.seq))
    expect(received[7]!.body).toEqual(JSON.parse(JSON.stringify(jsonRecord(events[7]!))))
  })

  it.runIf(tls)('fails retryably against a receiver whose certificate it cannot verify', async (ctx) => {
    if (!available) return ctx.skip()
    const sink = new SyslogSink(syslogOptions(`tls://127.0.0.1:${rsyslog.port}`, 'siem', {}, jsonRecord))
    const attempt = sink.deliver(feedEvents(1), { signal: new AbortController().signal })
    await expect(attempt).rejects.toBeInstanceOf(SinkError)
    await expect(attempt).rejects.toMatchObject({ options: { retryable: true } })
    await sink.close()
  })
})
