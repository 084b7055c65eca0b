import type { StreamDefinition, StreamRecord, StreamState } from './definition.js'

/** A deliverer's hold on one stream. `generation` fences it: a newer holder bumps it. */
export interface Lease {
  name: string
  owner: string
  generation: number
}

/** What a successful batch moves: the position, the count and the newest event's time. */
export interface Advance {
  position: string
  delivered: number
  delivered_through: string | null
  /**
   * Archive streams: per tenant, the highest seq the batch covered. Recorded with the position so
   * retention can ask how far each tenant's events are archived (`confirmedThrough`).
   */
  tenant_seqs?: Readonly<Record<string, number>>
}

/**
 * Stream definitions, positions and leases, in the event store's database so they survive
 * restarts and every auditq process sharing the store sees the same ones. Both stores implement
 * it (migration 60). Lease expiry is judged by the database's clock where it has one (PostgreSQL),
 * so processes with skewed clocks still agree.
 */
export interface StreamStore {
  create(definition: StreamDefinition, extra?: { replay_of?: string; position?: string | null; state?: StreamState }): Promise<StreamRecord>
  get(name: string): Promise<StreamRecord | null>
  list(): Promise<StreamRecord[]>
  /** Deletes the stream and any replay of it; false when there was none. */
  delete(name: string): Promise<boolean>
  /** Pause, resume (clears a park) or park with the error that caused it. */
  setState(name: string, state: StreamState, error?: string | null): Promise<boolean>
  /**
   * Takes the lease when it is free, expired, or already this owner's; the generation goes up on
   * every take (not on a renewal). Null when another owner holds it.
   */
  acquire(name: string, owner: string, ttlMs: number): Promise<Lease | null>
  /** Extends the lease; false once it was lost (taken over, or the stream deleted). */
  renew(lease: Lease, ttlMs: number): Promise<boolean>
  /** Lets the lease go at once, so another process need not wait for it to expire. */
  release(lease: Lease): Promise<void>
  /** Moves the position, only while `lease` is still the current one; false = fenced out, nothing written. */
  advance(lease: Lease, advance: Advance): Promise<boolean>
  /** Records a failure (fenced like advance); `failing_since` is kept from the first of a run. */
  recordFailure(lease: Lease, error: string, options: { park: boolean }): Promise<boolean>
  /**
   * Archive before delete: the highest seq of `tenantId` every archive stream that covers the
   * tenant's whole trail has acknowledged (the lowest of theirs); null when no archive stream is
   * configured. An archive stream filtered by action or category vouches for nothing, and a
   * tenant outside every archive stream's tenant filter gets 0 — retention then keeps its events.
   */
  confirmedThrough(tenantId: string): Promise<number | null>
}
