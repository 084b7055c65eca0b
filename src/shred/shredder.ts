/**
 * Sealing at the edge and revealing on read: the one place that turns personal values into
 * `aqe1:` ciphertext (after validation and redaction, before the queue or the store) and back, or
 * into `[erased]` when the subject's key is gone. Every read path (query, export, streams,
 * reports) goes through `reveal`, so they all agree on what an erased value reads as.
 */
import { AuditqError } from '../errors.js'
import { RESERVED_ACTIONS } from '../event/reserved.js'
import type { AuditEvent } from '../event/types.js'
import type { EventFilter } from '../query/event-filter.js'
import type { CountedValue } from '../report/model.js'
import { blindIndex, ERASED, openValue, sealedKeyId, sealValue } from './crypto.js'
import { Keyring, type DataKey } from './keyring.js'
import { isSealablePath, sealedPaths, type ShreddingOptions, type SubjectField } from './options.js'
import { clearPath, readPath, writePath } from './paths.js'
import type { SubjectKeyStore } from './subject-keys.js'

const INDEX_CACHE_MAX = 10_000
/** Key lookups one seal runs at once: PostgreSQL's write pool has 10 connections, ingest needs the rest. */
const KEY_LOOKUPS_AT_ONCE = 4

export class Shredder {
  readonly keyring: Keyring
  readonly subjectField: SubjectField
  readonly paths: readonly string[]

  constructor(options: ShreddingOptions, keys: SubjectKeyStore, now?: () => number) {
    this.keyring = new Keyring(keys, options.masterKey, options.keyCacheTtlMs, now)
    this.subjectField = options.subjectField
    this.paths = sealedPaths(options)
  }

  /** Subject value → blind index, for the subjects seen lately (an HMAC per event is measurable). */
  private readonly indexes = new Map<string, string>()

  async subjectIndex(value: string): Promise<string> {
    const known = this.indexes.get(value)
    if (known !== undefined) return known
    const index = blindIndex(await this.keyring.indexKey(), value)
    if (this.indexes.size >= INDEX_CACHE_MAX) this.indexes.delete(this.indexes.keys().next().value as string)
    this.indexes.set(value, index)
    return index
  }

  /**
   * Each event with a subject comes back with its personal values sealed under the subject's key
   * (stored null, or removed from metadata), `sealed` holding them and `subject_index` set. Events
   * without a subject value have no one to erase them for and pass unchanged, and so do events
   * sealed already (their subject field holds its pseudonym, sealed beside it). Sealed values a
   * caller sent along are kept beside ours: under a key this store does not hold, they read as `[erased]`.
   */
  async seal(events: readonly AuditEvent[]): Promise<AuditEvent[]> {
    // Every distinct subject's key first, a few lookups (or creations) at a time: a batch of new
    // subjects costs a fraction of one round trip each, without taking every pooled connection.
    const wanted = new Map<string, { tenant_id: string; subject: string }>()
    for (const event of events) {
      const subject = this.subjectOf(event)
      if (subject !== undefined) wanted.set(`${event.tenant_id}\u0000${subject}`, { tenant_id: event.tenant_id, subject })
    }
    if (wanted.size === 0) return [...events]
    const keys = new Map<string, { index: string; key: DataKey }>()
    const queue = [...wanted]
    await Promise.all(
      Array.from({ length: Math.min(KEY_LOOKUPS_AT_ONCE, queue.length) }, async () => {
        for (let next = queue.pop(); next !== undefined; next = queue.pop()) keys.set(next[0], await this.keyFor(next[1].tenant_id, next[1].subject))
      }),
    )
    const out: AuditEvent[] = []
    for (const event of events) {
      const subject = this.subjectOf(event)
      if (subject === undefined) {
        out.push(event)
        continue
      }
      const { index, key } = keys.get(`${event.tenant_id}\u0000${subject}`)!
      out.push(this.sealOne(event, index, key))
    }
    return out
  }

  /** The subject value to seal under, or undefined: none, or the event is sealed already. */
  private subjectOf(event: AuditEvent): string | undefined {
    // auditq's own records (producer accounting, retention, erasure) are about no person.
    if (RESERVED_ACTIONS.has(event.action)) return undefined
    const subject = event[this.subjectField]
    if (subject === null || subject === undefined) return undefined
    if (event.sealed?.[this.subjectField] !== undefined && subject.startsWith(PSEUDONYM_PREFIX)) return undefined
    return subject
  }

  private async keyFor(tenant_id: string, subject: string): Promise<{ index: string; key: DataKey }> {
    const index = await this.subjectIndex(subject)
    return { index, key: await this.keyring.forSubject(tenant_id, index) }
  }

  private sealOne(event: AuditEvent, index: string, { key_id, key }: DataKey): AuditEvent {
    const copy: AuditEvent = { ...event, metadata: this.paths.some((p) => p.startsWith('metadata.')) ? structuredClone(event.metadata) : event.metadata }
    const sealed: Record<string, string> = { ...event.sealed }
    for (const path of this.paths) {
      const value = readPath(copy, path)
      if (value === undefined || value === null) continue
      sealed[path] = sealValue(key, key_id, value, { event_id: event.id, path })
      clearPath(copy, path)
    }
    // Keys sorted, as the validator leaves every object: the canonical form's fast path.
    copy.sealed = Object.fromEntries(Object.entries(sealed).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    copy.subject_index = index
    // The subject field keeps a pseudonym rather than null, so what groups by it (reports' top
    // actors) still tells subjects apart; readers see the value, or `[erased]`, in its place.
    ;(copy as unknown as Record<string, unknown>)[this.subjectField] = subjectPseudonym(index)
    return copy
  }

  /** Stored events as readers see them: sealed values opened, or `[erased]` where the key is gone. */
  async reveal(events: readonly AuditEvent[]): Promise<AuditEvent[]> {
    const ids: string[] = []
    for (const event of events) for (const text of Object.values(event.sealed ?? {})) {
      const id = sealedKeyId(text)
      if (id !== undefined) ids.push(id)
    }
    if (ids.length === 0) return events as AuditEvent[]
    const keys = await this.keyring.byIds(ids)
    return events.map((event) => {
      if (!event.sealed) return event
      const sealedMetadata = Object.keys(event.sealed).some((path) => path.startsWith('metadata.'))
      const copy: AuditEvent = { ...event, metadata: sealedMetadata ? structuredClone(event.metadata) : event.metadata }
      for (const [path, text] of Object.entries(event.sealed)) {
        // Only paths this module could have sealed are written back; anything else a caller sent in
        // `sealed` stays there, opaque.
        if (!isSealablePath(path)) continue
        const key = keys.get(sealedKeyId(text) ?? '')
        writePath(copy, path, key ? open(key, text, event.id, path) : ERASED)
      }
      return copy
    })
  }

  /**
   * A report's counted subject values as readers see them: each pseudonym becomes its subject's
   * value (read from one of its events) or `[erased]`, and rows that now read the same are merged
   * (every erased subject is one `[erased]` row). `sample` returns one stored event carrying a
   * pseudonym. Order and cut as the stores make them: count descending, then value, absent last.
   */
  async revealCounted(counted: readonly CountedValue[], topN: number, sample: (pseudonym: string) => Promise<AuditEvent | null>): Promise<CountedValue[]> {
    if (!counted.some((row) => row.value?.startsWith(PSEUDONYM_PREFIX))) return [...counted]
    const merged = new Map<string | null, number>()
    for (const row of counted) {
      let value = row.value
      if (value?.startsWith(PSEUDONYM_PREFIX)) {
        const event = await sample(value)
        const revealed = event ? (await this.reveal([event]))[0] : undefined
        const shown = revealed ? (revealed as unknown as Record<string, unknown>)[this.subjectField] : undefined
        value = typeof shown === 'string' ? shown : ERASED
      }
      merged.set(value, (merged.get(value) ?? 0) + row.count)
    }
    return [...merged]
      .map(([value, count]) => ({ value, count }))
      .sort((a, b) => b.count - a.count || (a.value === null ? 1 : b.value === null ? -1 : Buffer.compare(Buffer.from(a.value), Buffer.from(b.value))))
      .slice(0, topN)
  }

  /**
   * A filter on the subject field, as the stores can answer it: the stored field is null on sealed
   * events, so it matches on the blind index, or on the plain value for events stored before
   * shredding was turned on.
   */
  async storeFilter(filter: EventFilter): Promise<EventFilter> {
    const value = (filter as Record<string, unknown>)[this.subjectField]
    if (typeof value !== 'string') return filter
    const rest: EventFilter = { ...filter }
    delete (rest as Record<string, unknown>)[this.subjectField]
    return { ...rest, subject: { field: this.subjectField, value, index: await this.subjectIndex(value) } }
  }
}

/** What the subject field stores on a sealed event: the blind index, marked. */
export const PSEUDONYM_PREFIX = 'aqs:'

export function subjectPseudonym(index: string): string {
  return `${PSEUDONYM_PREFIX}${index}`
}

function open(key: Buffer, text: string, eventId: string, path: string): unknown {
  try {
    return openValue(key, text, { event_id: eventId, path })
  } catch (error) {
    // The key is right (it opened under the master key) but the value does not open: it was
    // altered or moved in the store. Never shown as erased: that would hide tampering.
    throw new AuditqError('AUDITQ_INTERNAL', `event ${eventId}: the sealed ${path} does not open under its key (altered in the store?); run auditq verify`, { cause: error })
  }
}
