/**
 * The archive sink: a stream's events as gzipped NDJSON segments in a directory, one tenant per
 * segment, listed in a signed manifest (manifest.ts) that `auditq verify --archive` checks offline.
 *
 * Durability: each batch is appended to its tenant's open segment as one gzip member (gzip readers
 * read concatenated members as one stream), the file is fsynced (and its directory, for a new
 * file), then the manifest is replaced atomically and fsynced; only then does `deliver` resolve.
 * A crash between the two leaves bytes past what the manifest lists: they were never confirmed,
 * so the next start cuts them off and the runner delivers them again. Events at or below a
 * tenant's archived seq are skipped, so a redelivered batch is written once.
 *
 * Rotation: a tenant's segment is sealed and a new one started when it reaches `rotateBytes`, when
 * the UTC hour changes, or when the feed skips seqs (so a gap always lies between two segments).
 */
import { createHash, type Hash } from 'node:crypto'
import { mkdir, open, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { gzipSync } from 'node:zlib'
import type { SigningKey } from '../../../integrity/checkpoint.js'
import { fsyncDir, replaceFileDurably, writeAll } from '../../../queue/spill/durable-fs.js'
import { SinkError, type FeedEvent, type StreamSink } from '../../sink.js'
import { MANIFEST_FILE, readManifest, renderManifest, type SegmentEntry } from './manifest.js'

export interface ArchiveSinkOptions {
  dir: string
  /** The checkpoint signing key: the manifest is signed with it, and verified with its public key. */
  signingKey: SigningKey
  /** A segment is sealed once it holds this many bytes (compressed). */
  rotateBytes: number
  /** Test seam for the clock (rotation by hour). */
  now?: () => Date
}

type Entry = Omit<SegmentEntry, 'prev' | 'v' | 'n'>

interface OpenSegment {
  entry: Entry
  hash: Hash
}

const hourOf = (iso: string) => iso.slice(0, 13)
const safeName = (tenant: string) => tenant.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64)

export class ArchiveSink implements StreamSink {
  readonly kind = 'archive'
  private readonly entries: Entry[] = []
  private readonly open = new Map<string, OpenSegment>()
  private readonly lastSeq = new Map<string, number>()
  private loaded: Promise<void> | undefined
  private closed = false

  constructor(private readonly options: ArchiveSinkOptions) {}

  /** Highest seq of the tenant in the archive (what retention may delete up to); null = none yet. */
  async confirmedThrough(tenantId: string): Promise<number | null> {
    await this.load()
    return this.lastSeq.get(tenantId) ?? null
  }

  async deliver(batch: readonly FeedEvent[], options: { signal: AbortSignal }): Promise<void> {
    if (this.closed) throw new SinkError('the archive sink is closed', { retryable: false })
    await this.load()
    const byTenant = new Map<string, FeedEvent[]>()
    for (const item of batch) {
      const tenant = item.event.tenant_id
      if (item.seq <= (this.lastSeq.get(tenant) ?? 0)) continue // archived already: a redelivery
      let list = byTenant.get(tenant)
      if (!list) byTenant.set(tenant, (list = []))
      list.push(item)
    }
    if (byTenant.size === 0) return
    // Once a write starts the batch is finished: an abort between tenants would leave the manifest behind the files.
    if (options.signal.aborted) throw new SinkError('delivery aborted before the archive was written', { retryable: true })
    try {
      for (const [tenant, events] of byTenant) await this.append(tenant, events)
      await replaceFileDurably(path.join(this.options.dir, MANIFEST_FILE), renderManifest(this.entries, this.options.signingKey))
    } catch (error) {
      // Files may hold bytes the manifest does not list: cut off before the next write (see append).
      this.loaded = undefined
      this.open.clear()
      this.lastSeq.clear()
      this.entries.length = 0
      throw new SinkError(`archive write failed: ${(error as Error).message}`, { retryable: true })
    }
  }

  async close(): Promise<void> {
    this.closed = true
  }

  private async append(tenant: string, events: FeedEvent[]): Promise<void> {
    const now = (this.options.now?.() ?? new Date()).toISOString()
    let segment = this.open.get(tenant)
    const first = events[0]!
    const continues = segment !== undefined && first.seq === segment.entry.last_seq + 1
    if (segment && (!continues || segment.entry.bytes >= this.options.rotateBytes || hourOf(segment.entry.opened_at) !== hourOf(now))) {
      segment.entry.sealed = true
      segment = undefined
    }
    const data = gzipSync(Buffer.from(events.map((item) => JSON.stringify({ seq: item.seq, hash: item.hash, event: item.event })).join('\n') + '\n'))
    const last = events.at(-1)!
    if (!segment) {
      const entry: Entry = {
        file: `${String(this.entries.length + 1).padStart(8, '0')}-${safeName(tenant)}.ndjson.gz`,
        tenant_id: tenant,
        first_seq: first.seq,
        last_seq: first.seq - 1,
        events: 0,
        bytes: 0,
        sha256: '',
        first_hash: first.hash,
        last_hash: '',
        opened_at: now,
        sealed: false,
      }
      segment = { entry, hash: createHash('sha256') }
      this.entries.push(entry)
      this.open.set(tenant, segment)
    }
    const file = path.join(this.options.dir, segment.entry.file)
    const isNew = segment.entry.bytes === 0
    const handle = await open(file, isNew ? 'w' : 'r+')
    try {
      // Anything past the listed bytes was never confirmed (a failed or crashed write): overwrite it.
      await handle.truncate(segment.entry.bytes)
      await writeAll(handle, data, segment.entry.bytes)
      await handle.sync()
    } finally {
      await handle.close()
    }
    if (isNew) await fsyncDir(this.options.dir)
    segment.hash.update(data)
    Object.assign(segment.entry, {
      bytes: segment.entry.bytes + data.length,
      sha256: segment.hash.copy().digest('hex'),
      last_seq: last.seq,
      last_hash: last.hash,
      events: segment.entry.events + events.length,
    })
    this.lastSeq.set(tenant, last.seq)
  }

  /** Reads the manifest (signed by this key) and reopens each tenant's open segment, cutting off unconfirmed bytes. */
  private load(): Promise<void> {
    this.loaded ??= (async () => {
      await mkdir(this.options.dir, { recursive: true })
      let text: string
      try {
        text = await readFile(path.join(this.options.dir, MANIFEST_FILE), 'utf8')
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
        throw error
      }
      const { entries, problem } = readManifest(text, this.options.signingKey.publicKey)
      if (problem) throw new SinkError(`the archive's manifest is damaged (${problem.problem}); run auditq verify --archive`, { retryable: false })
      for (const { v: _v, n: _n, prev: _prev, ...entry } of entries) {
        this.entries.push(entry)
        this.lastSeq.set(entry.tenant_id, Math.max(this.lastSeq.get(entry.tenant_id) ?? 0, entry.last_seq))
        if (entry.sealed) continue
        const file = path.join(this.options.dir, entry.file)
        const size = (await stat(file)).size
        if (size < entry.bytes) throw new SinkError(`archive segment ${entry.file} is shorter than the manifest lists; run auditq verify --archive`, { retryable: false })
        const content = (await readFile(file)).subarray(0, entry.bytes)
        const hash = createHash('sha256').update(content)
        if (hash.copy().digest('hex') !== entry.sha256) throw new SinkError(`archive segment ${entry.file} does not match the manifest; run auditq verify --archive`, { retryable: false })
        this.open.set(entry.tenant_id, { entry, hash })
      }
    })()
    return this.loaded
  }
}
