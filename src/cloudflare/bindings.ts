/**
 * The parts of Cloudflare's binding types auditq uses, declared structurally so the package needs
 * no `@cloudflare/workers-types` at runtime or in a user's type graph; the real `D1Database`,
 * `Queue` and `MessageBatch` of workers-types are assignable to them (checked in
 * `examples/cloudflare/shared/bindings.check.ts`, part of `npm run typecheck`).
 */

export interface D1Result<Row = Record<string, unknown>> {
  results: Row[]
  success: boolean
  meta: { changes?: number; [key: string]: unknown }
}

export interface D1PreparedStatement {
  bind(...values: unknown[]): D1PreparedStatement
  first<Row = Record<string, unknown>>(): Promise<Row | null>
  all<Row = Record<string, unknown>>(): Promise<D1Result<Row>>
  run<Row = Record<string, unknown>>(): Promise<D1Result<Row>>
}

export interface D1Database {
  prepare(query: string): D1PreparedStatement
  /** Runs the statements in one implicit transaction: all of them commit, or none. */
  batch<Row = Record<string, unknown>>(statements: D1PreparedStatement[]): Promise<D1Result<Row>[]>
}

export interface QueueSendOptions {
  contentType?: 'json' | 'text' | 'bytes' | 'v8'
  delaySeconds?: number
}

export interface MessageSendRequest<Body> {
  body: Body
  contentType?: 'json' | 'text' | 'bytes' | 'v8'
  delaySeconds?: number
}

/** A Cloudflare Queue producer binding. */
export interface Queue<Body = unknown> {
  send(body: Body, options?: QueueSendOptions): Promise<unknown>
  sendBatch(messages: Iterable<MessageSendRequest<Body>>, options?: { delaySeconds?: number }): Promise<unknown>
}

export interface Message<Body = unknown> {
  /** Unique per message and the same on every redelivery of it. */
  readonly id: string
  /** When the queue accepted the message. */
  readonly timestamp: Date
  readonly body: Body
  /** Deliveries so far, this one included (1 on first delivery). */
  readonly attempts: number
  ack(): void
  retry(options?: { delaySeconds?: number }): void
}

export interface MessageBatch<Body = unknown> {
  readonly queue: string
  readonly messages: readonly Message<Body>[]
  ackAll(): void
  retryAll(options?: { delaySeconds?: number }): void
}
