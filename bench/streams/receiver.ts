/**
 * The stream bench's webhook receiver: acknowledges every batch (or answers 503 while "down") and
 * notes, per delivered event, the lag from the event's `received_at` to the acknowledgement. It runs
 * inside the bench process, or in a child process of its own (`ChildReceiver`) when the bench lays
 * the delivery side out on its own CPU (`--layout two-hosts`), so parsing the deliveries is not
 * charged to the ingest side.
 */
import { fork, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceiverReport {
  lags: number[]
  /** Receiver clock at each acknowledgement, parallel to `lags`. */
  ackAt: number[]
  events: number
  /** When the first batch after the receiver came (back) up was acknowledged. */
  firstAckAt: number | null
}

/** What the bench needs of a receiver, wherever it runs. */
export interface WebhookReceiver {
  readonly port: number
  start(): Promise<void>
  setUp(up: boolean): Promise<void>
  report(): Promise<ReceiverReport>
  close(): Promise<void>
}

export class Receiver implements WebhookReceiver {
  private readonly state: ReceiverReport = { lags: [], ackAt: [], events: 0, firstAckAt: null }
  private up = true
  private server!: http.Server
  port = 0

  async start(port = 0): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        if (!this.up) return void res.writeHead(503, { 'retry-after': '1' }).end()
        const now = Date.now()
        this.state.firstAckAt ??= now
        for (const line of Buffer.concat(chunks).toString('utf8').split('\n')) {
          if (!line) continue
          const at = line.indexOf('"received_at":"')
          this.state.lags.push(now - Date.parse(line.slice(at + 15, at + 39)))
          this.state.ackAt.push(now)
          this.state.events++
        }
        res.writeHead(204).end()
      })
    })
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
  }

  async setUp(up: boolean): Promise<void> {
    this.up = up
    if (up) this.state.firstAckAt = null
  }

  async report(): Promise<ReceiverReport> {
    return this.state
  }

  async close(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise((resolve) => this.server.close(resolve))
  }
}

type Request = { id: number; op: 'up' | 'down' | 'report' | 'close' }
type Reply = { id: number; report?: ReceiverReport } | { port: number }

/** The same receiver in a child process, its command line prefixed with `prefix` (e.g. `taskset -c 1`). */
export class ChildReceiver implements WebhookReceiver {
  port = 0
  private child!: ChildProcess
  private next = 0
  private readonly waiting = new Map<number, (reply: Reply) => void>()

  constructor(private readonly prefix: string[] = []) {}

  async start(): Promise<void> {
    const entry = new URL('./receiver-child.js', import.meta.url).pathname
    this.child = this.prefix.length
      ? fork(entry, [], { execPath: this.prefix[0]!, execArgv: [...this.prefix.slice(1), process.execPath], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
      : fork(entry, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    this.port = await new Promise<number>((resolve, reject) => {
      this.child.once('error', reject)
      this.child.once('exit', (code) => reject(new Error(`receiver exited (${code})`)))
      this.child.on('message', (reply: Reply) => {
        if ('port' in reply) return resolve(reply.port)
        this.waiting.get(reply.id)?.(reply)
        this.waiting.delete(reply.id)
      })
    })
  }

  private ask(op: Request['op']): Promise<Reply> {
    const id = this.next++
    return new Promise((resolve) => {
      this.waiting.set(id, resolve)
      this.child.send({ id, op } satisfies Request)
    })
  }

  async setUp(up: boolean): Promise<void> {
    await this.ask(up ? 'up' : 'down')
  }

  async report(): Promise<ReceiverReport> {
    return (await this.ask('report') as { report: ReceiverReport }).report
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return
    this.child.removeAllListeners('exit') // start()'s, which rejects
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    await this.ask('close')
    await exited
  }
}
