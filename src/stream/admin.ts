/**
 * Stream management as the CLI and the HTTP API offer it: create, list, show, pause, resume,
 * delete, replay. A caller bound to a tenant sees and manages only the streams that tenant owns,
 * and every stream it creates is bound to its events; an unbound caller (admin) manages them all.
 */
import { randomBytes } from 'node:crypto'
import { AuditqError } from '../errors.js'
import { invalid, redactOptions, singleTenant, validateDefinition, type StreamDefinition, type StreamRecord } from './definition.js'
import type { Formatters } from './format.js'
import { isPrivateTarget } from './private-target.js'
import { checkSinkOptions } from './sinks/create-sink.js'
import type { StreamStore } from './stream-store.js'

/** Who is asking: a tenant's key sees its own streams; null = every stream. */
export interface StreamCaller {
  tenantId: string | null
}

/** Checks a sink's options when a stream is created, so a bad one is refused then, not parked later. */
export type SinkOptionsCheck = (definition: StreamDefinition) => void

export interface ReplayFrom {
  /** Re-send events that occurred at or after this instant. */
  time?: string
  /** Re-send events after this feed cursor. */
  cursor?: string
}

export class StreamAdmin {
  constructor(
    private readonly store: StreamStore,
    private readonly checks: { sink?: SinkOptionsCheck; cursor?: (cursor: string, scope: { tenant_id: string | null }) => void } = {},
  ) {}

  async create(caller: StreamCaller, definition: StreamDefinition): Promise<StreamRecord> {
    if (caller.tenantId !== null) {
      if (definition.owner_tenant !== null && definition.owner_tenant !== caller.tenantId) {
        throw new AuditqError('AUDITQ_FORBIDDEN', `a key of tenant "${caller.tenantId}" cannot create a stream of tenant "${definition.owner_tenant}"`)
      }
      definition = { ...definition, owner_tenant: caller.tenantId }
      const host = URL.canParse(definition.sink.url) ? new URL(definition.sink.url).hostname : ''
      if (isPrivateTarget(host)) throw invalid('url', 'private', `a tenant's stream cannot target ${host}: loopback, private and link-local receivers need an admin key or the CLI`)
    }
    validateDefinition(definition)
    this.checks.sink?.(definition)
    return this.store.create(definition)
  }

  async list(caller: StreamCaller): Promise<StreamRecord[]> {
    return (await this.store.list()).filter((stream) => visible(caller, stream))
  }

  async show(caller: StreamCaller, name: string): Promise<StreamRecord> {
    const stream = await this.store.get(name)
    if (!stream || !visible(caller, stream)) throw new AuditqError('AUDITQ_STREAM_NOT_FOUND', `no stream named "${name}"`)
    return stream
  }

  async pause(caller: StreamCaller, name: string): Promise<StreamRecord> {
    await this.show(caller, name)
    await this.store.setState(name, 'paused')
    return this.show(caller, name)
  }

  /** Resumes a paused or parked stream; a parked one retries the batch it parked on. */
  async resume(caller: StreamCaller, name: string): Promise<StreamRecord> {
    await this.show(caller, name)
    await this.store.setState(name, 'active')
    return this.show(caller, name)
  }

  async delete(caller: StreamCaller, name: string): Promise<void> {
    await this.show(caller, name)
    await this.store.delete(name)
  }

  /**
   * Starts a backfill: a replay stream with the same sink and filter that begins at `from` and
   * ends once it has caught up with the feed. The live stream's position is never touched.
   */
  async replay(caller: StreamCaller, name: string, from: ReplayFrom): Promise<StreamRecord> {
    const live = await this.show(caller, name)
    if (live.replay_of !== null) throw invalid('name', 'replay', `"${name}" is itself a replay`)
    if ((from.time === undefined) === (from.cursor === undefined)) throw invalid('from', 'required', 'give exactly one of a time (ISO-8601) or a feed cursor')
    if (from.cursor !== undefined) this.checks.cursor?.(from.cursor, { tenant_id: singleTenant(live) })
    let filter = live.filter
    if (from.time !== undefined) {
      const at = Date.parse(from.time)
      if (Number.isNaN(at)) throw invalid('from', 'format', `"${from.time}" is not an ISO-8601 time`)
      filter = { ...filter, from: new Date(at).toISOString() }
    }
    const replayName = `${name}~replay-${Date.now().toString(36)}${randomBytes(2).toString('hex')}`
    return this.store.create({ ...live, name: replayName, filter }, { replay_of: name, position: from.cursor ?? null })
  }
}

function visible(caller: StreamCaller, stream: StreamRecord): boolean {
  return caller.tenantId === null || stream.owner_tenant === caller.tenantId
}

/** A stream as shown to people and API clients: secrets masked, lease and failure spelled out. */
export function describeStream(stream: StreamRecord): Record<string, unknown> {
  return { ...stream, sink: { ...stream.sink, options: redactOptions(stream.sink.options) } }
}

/** The admin over a store's streams, with the checks this build can make at create and replay time. */
export function streamAdminFor(streams: StreamStore, options: { formatters: Formatters; feed?: { checkCursor(cursor: string, scope: { tenant_id: string | null }): void } }): StreamAdmin {
  const { feed, formatters } = options
  return new StreamAdmin(streams, {
    sink: (definition) => checkSinkOptions(definition, formatters),
    ...(feed ? { cursor: (cursor, scope) => feed.checkCursor(cursor, scope) } : {}),
  })
}
