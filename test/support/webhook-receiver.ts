/**
 * A real HTTP receiver for stream tests: records every request it acknowledged (or not), checks
 * signatures with the exported verifyWebhook, and can be told to answer with a status, to drop the
 * connection after reading a request (a receiver killed mid-batch), or to hold responses so
 * concurrent deliveries would overlap visibly.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { gunzipSync } from 'node:zlib'
import { verifyWebhook } from '../../src/stream/sinks/webhook/signature.js'

export interface ReceivedRequest {
  at: number
  path: string
  headers: http.IncomingHttpHeaders
  /** Decompressed body text. */
  body: string
  signature: ReturnType<typeof verifyWebhook> | null
  /** What the receiver did with it. */
  outcome: 'acknowledged' | 'refused' | 'dropped'
}

export type Reaction = { status: number; headers?: Record<string, string>; body?: string } | 'drop'

export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = []
  /** Consumed one per request before the default 200. */
  readonly reactions: Reaction[] = []
  /** Hold each response this long (to make overlapping deliveries visible). */
  delayMs = 0
  inFlight = 0
  maxInFlight = 0
  private server: http.Server | null = null
  private readonly sockets = new Set<import('node:net').Socket>()
  port = 0

  constructor(private readonly secret: string | null) {}

  async start(port = 0): Promise<number> {
    const server = http.createServer((req, res) => void this.handle(req, res))
    server.on('connection', (socket) => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
    })
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
    this.server = server
    this.port = (server.address() as AddressInfo).port
    return this.port
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/ingest`
  }

  /** Stops at once: open connections are destroyed, like a killed process's. */
  async kill(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
    this.server = null
  }

  /** Event lines of acknowledged requests, in arrival order. */
  acknowledgedLines(): Record<string, unknown>[] {
    return this.requests.filter((r) => r.outcome === 'acknowledged').flatMap((r) => lines(r.body))
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.inFlight++
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
    try {
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      const raw = Buffer.concat(chunks)
      const signature = this.secret ? verifyWebhook({ body: raw, header: req.headers['x-auditq-signature'], secret: this.secret }) : null
      const body = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8')
      if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs))
      const reaction = this.reactions.shift() ?? (signature && !signature.ok ? { status: 401, body: `bad signature: ${signature.reason}` } : { status: 200 })
      const record = { at: Date.now(), path: req.url ?? '', headers: req.headers, body, signature }
      if (reaction === 'drop') {
        this.requests.push({ ...record, outcome: 'dropped' })
        req.socket.destroy()
        return
      }
      this.requests.push({ ...record, outcome: reaction.status >= 200 && reaction.status < 300 ? 'acknowledged' : 'refused' })
      res.writeHead(reaction.status, reaction.headers ?? {})
      res.end(reaction.body ?? '')
    } finally {
      this.inFlight--
    }
  }
}

export function lines(body: string): Record<string, unknown>[] {
  return body
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
}
