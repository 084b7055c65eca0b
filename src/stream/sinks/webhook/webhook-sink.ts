/**
 * Delivers batches by HTTP POST. A 2xx acknowledges the batch; 408, 429 and 5xx (and any network
 * failure or timeout) are retryable, honouring Retry-After; any other 4xx means the receiver will
 * never take this request as it is, so the stream parks with that status and body visible.
 */
import http from 'node:http'
import https from 'node:https'
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { invalid, WEBHOOK_PRESETS, type WebhookPreset } from '../../definition.js'
import type { EventFormatter } from '../../format.js'
import { SinkError, type FeedEvent, type StreamSink } from '../../sink.js'
import { presetRequest } from './presets.js'
import { signWebhook } from './signature.js'

export interface WebhookSinkOptions {
  url: string
  streamName: string
  preset: WebhookPreset
  /** HMAC secret; every request carries X-Auditq-Signature when set. */
  secret?: string
  /** Splunk HEC token or Datadog API key. */
  token?: string
  gzip: boolean
  timeoutMs: number
  /** PEM of extra CAs to trust for https (a private receiver). */
  ca?: string
  formatter: EventFormatter
}

/** Reads and checks a stream's webhook options (`--secret`, `--gzip`, `--preset`, `--token`, `--timeout-ms`, `--ca-file`). */
export function webhookOptions(url: string, streamName: string, options: Record<string, string>, formatter: EventFormatter): WebhookSinkOptions {
  const preset = (options['preset'] ?? 'generic') as WebhookPreset
  if (!(WEBHOOK_PRESETS as readonly string[]).includes(preset)) throw invalid('preset', 'enum', `preset must be one of ${WEBHOOK_PRESETS.join(', ')}`)
  if (preset === 'generic' && !options['secret']) throw invalid('secret', 'required', 'a webhook stream needs --secret: every request is signed so the receiver can tell it came from this service')
  if (preset !== 'generic' && !options['token']) throw invalid('token', 'required', `the ${preset} preset needs --token (${preset === 'datadog' ? 'the Datadog API key' : 'the HEC token'})`)
  const timeoutMs = Number(options['timeout_ms'] ?? 10_000)
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 300_000) throw invalid('timeout_ms', 'range', 'timeout_ms must be an integer from 100 to 300000')
  const gzip = options['gzip'] ?? 'false'
  if (gzip !== 'true' && gzip !== 'false') throw invalid('gzip', 'enum', 'gzip is true or false')
  return {
    url,
    streamName,
    preset,
    gzip: gzip === 'true',
    timeoutMs,
    formatter,
    ...(options['secret'] ? { secret: options['secret'] } : {}),
    ...(options['token'] ? { token: options['token'] } : {}),
    ...(options['ca_file'] ? { ca: readFileSync(options['ca_file'], 'utf8') } : {}),
  }
}

export class WebhookSink implements StreamSink {
  readonly kind = 'webhook'
  private readonly agent: http.Agent

  constructor(private readonly options: WebhookSinkOptions) {
    const url = new URL(options.url)
    this.agent = url.protocol === 'https:' ? new https.Agent({ keepAlive: true, maxSockets: 1, ...(options.ca ? { ca: options.ca } : {}) }) : new http.Agent({ keepAlive: true, maxSockets: 1 })
  }

  async deliver(batch: readonly FeedEvent[], { signal }: { signal: AbortSignal }): Promise<void> {
    const request = presetRequest(this.options.preset, batch, { streamName: this.options.streamName, formatter: this.options.formatter, ...(this.options.token ? { token: this.options.token } : {}) })
    const body = this.options.gzip ? gzipSync(request.body) : request.body
    const headers: Record<string, string> = {
      ...request.headers,
      'content-type': request.contentType,
      'content-length': String(body.length),
      'user-agent': 'auditq-stream',
      'x-auditq-stream': this.options.streamName,
      'x-auditq-batch-size': String(batch.length),
      'x-auditq-first-event-id': batch[0]?.event.id ?? '',
    }
    if (this.options.gzip) headers['content-encoding'] = 'gzip'
    if (this.options.secret) headers['x-auditq-signature'] = signWebhook(this.options.secret, body)
    const { status, retryAfter, text } = await this.post(body, headers, signal)
    if (status >= 200 && status < 300) return
    const message = `webhook answered ${status}${text ? `: ${text.slice(0, 300)}` : ''}`
    const retryable = status === 408 || status === 429 || status >= 500
    throw new SinkError(message, { retryable, status, ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}) })
  }

  private post(body: Buffer, headers: Record<string, string>, signal: AbortSignal): Promise<{ status: number; retryAfter?: number; text: string }> {
    const url = new URL(this.options.url)
    const transport = url.protocol === 'https:' ? https : http
    return new Promise((resolve, reject) => {
      const timeout = AbortSignal.timeout(this.options.timeoutMs)
      const both = AbortSignal.any([signal, timeout])
      const req = transport.request(url, { method: 'POST', headers, agent: this.agent, signal: both }, (res) => {
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          // Only the start of an error body is kept for `streams show`.
          if (size < 4096) chunks.push(chunk)
          size += chunk.length
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8').trim(), ...retryAfterOf(res.headers['retry-after']) }))
        res.on('error', (error) => reject(networkError(error, timeout)))
      })
      req.on('error', (error) => reject(networkError(error, timeout)))
      req.end(body)
    })
  }

  async close(): Promise<void> {
    this.agent.destroy()
  }
}

function networkError(error: Error, timeout: AbortSignal): SinkError {
  const message = timeout.aborted ? 'webhook did not answer within the timeout' : `webhook unreachable: ${error.message}`
  return new SinkError(message, { retryable: true })
}

/** Retry-After as seconds or an HTTP date, in ms; absent when missing or unreadable. */
export function retryAfterOf(header: string | undefined): { retryAfter?: number } {
  if (!header) return {}
  if (/^\d+$/.test(header.trim())) return { retryAfter: Number(header.trim()) * 1000 }
  const at = Date.parse(header)
  return Number.isNaN(at) ? {} : { retryAfter: Math.max(0, at - Date.now()) }
}
