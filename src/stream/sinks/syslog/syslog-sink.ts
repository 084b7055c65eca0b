/**
 * Delivers batches as RFC 5424 messages over TCP (RFC 6587 octet counting) or TLS (RFC 5425).
 * Syslog has no application acknowledgement: a batch counts as delivered once every frame was
 * handed to the kernel (the write callback) and the connection is still open and error-free
 * after it. A connection that fails mid-batch is dropped and the whole batch is sent again on a
 * new one, so the receiver may see the frames before the break twice (the event id in the
 * structured data lets it tell).
 */
import net from 'node:net'
import { hostname } from 'node:os'
import { readFileSync } from 'node:fs'
import tls from 'node:tls'
import { invalid } from '../../definition.js'
import { formatLine, type EventFormatter } from '../../format.js'
import { SinkError, type FeedEvent, type StreamSink } from '../../sink.js'
import { octetCounted, syslogMessage } from './rfc5424.js'

export interface SyslogSinkOptions {
  host: string
  port: number
  tls: boolean
  /** PEM of the CA that signed the receiver's certificate (default: the system's). */
  ca?: string
  /** Client certificate and key, for receivers that authenticate senders. */
  cert?: string
  key?: string
  /** Name checked against the receiver's certificate (default: the host). */
  servername?: string
  facility: number
  streamName: string
  timeoutMs: number
  formatter: EventFormatter
}

/** Reads and checks a stream's syslog options (`--ca-file`, `--cert-file`, `--key-file`, `--servername`, `--facility`). */
export function syslogOptions(url: string, streamName: string, options: Record<string, string>, formatter: EventFormatter): SyslogSinkOptions {
  const parsed = new URL(url)
  const facility = Number(options['facility'] ?? 13)
  if (!Number.isInteger(facility) || facility < 0 || facility > 23) throw invalid('facility', 'range', 'facility is an integer from 0 to 23')
  const read = (field: string) => {
    const file = options[field]
    if (!file) return undefined
    try {
      return readFileSync(file, 'utf8')
    } catch (error) {
      throw invalid(field, 'readable', `cannot read ${file}: ${(error as Error).message}`)
    }
  }
  const ca = read('ca_file')
  const cert = read('cert_file')
  const key = read('key_file')
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: Number(parsed.port),
    tls: parsed.protocol === 'tls:',
    facility,
    streamName,
    timeoutMs: Number(options['timeout_ms'] ?? 10_000),
    formatter,
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(options['servername'] ? { servername: options['servername'] } : {}),
  }
}

export class SyslogSink implements StreamSink {
  readonly kind = 'syslog'
  private socket: net.Socket | null = null
  private failure: Error | null = null
  private readonly hostname = hostname()

  constructor(private readonly options: SyslogSinkOptions) {}

  async deliver(batch: readonly FeedEvent[], { signal }: { signal: AbortSignal }): Promise<void> {
    const frames = Buffer.concat(
      batch.map((entry) =>
        octetCounted(syslogMessage(entry, formatLine(this.options.formatter, entry), { facility: this.options.facility, hostname: this.hostname, procId: String(process.pid), streamName: this.options.streamName })),
      ),
    )
    try {
      const socket = await this.connected(signal)
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(new Error('aborted'))
        signal.addEventListener('abort', onAbort, { once: true })
        socket.write(frames, (error) => {
          signal.removeEventListener('abort', onAbort)
          if (error) reject(error)
          else resolve()
        })
      })
      // A receiver that closed or reset while we wrote shows up here (or on the next write).
      if (this.failure || socket.destroyed) throw this.failure ?? new Error('connection closed')
    } catch (error) {
      this.drop()
      throw new SinkError(`syslog ${this.options.tls ? 'tls' : 'tcp'}://${this.options.host}:${this.options.port}: ${(error as Error).message}`, { retryable: true })
    }
  }

  private connected(signal: AbortSignal): Promise<net.Socket> {
    if (this.socket && !this.socket.destroyed && !this.failure) return Promise.resolve(this.socket)
    this.drop()
    return new Promise((resolve, reject) => {
      const { host, port, timeoutMs } = this.options
      const socket = this.options.tls
        ? tls.connect({ host, port, ...(this.options.servername || !net.isIP(host) ? { servername: this.options.servername ?? host } : {}), ...(this.options.ca ? { ca: this.options.ca } : {}), ...(this.options.cert ? { cert: this.options.cert } : {}), ...(this.options.key ? { key: this.options.key } : {}) })
        : net.connect({ host, port })
      const timer = setTimeout(() => fail(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs)
      const fail = (error: Error) => {
        clearTimeout(timer)
        socket.destroy()
        reject(error)
      }
      signal.addEventListener('abort', () => fail(new Error('aborted')), { once: true })
      socket.once('error', fail)
      socket.once(this.options.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer)
        socket.off('error', fail)
        socket.setKeepAlive(true, 10_000)
        socket.setNoDelay(true)
        this.failure = null
        // Anything the receiver sends is ignored; an error or close marks the connection unusable.
        socket.on('data', () => undefined)
        socket.on('error', (error) => (this.failure = error))
        socket.on('close', () => (this.failure ??= new Error('connection closed by the receiver')))
        this.socket = socket
        resolve(socket)
      })
    })
  }

  private drop(): void {
    this.socket?.destroy()
    this.socket = null
    this.failure = null
  }

  async close(): Promise<void> {
    const socket = this.socket
    this.socket = null
    if (!socket || socket.destroyed) return
    await new Promise<void>((resolve) => {
      socket.end(() => resolve())
      setTimeout(() => {
        socket.destroy()
        resolve()
      }, 2_000).unref()
    })
  }
}
