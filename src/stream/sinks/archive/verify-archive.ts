/**
 * Verifies an archive directory offline, with no database: the manifest's chain and signature,
 * then each segment's bytes against its entry, then the events inside — seqs without gaps and each
 * event's chain hash recomputed from the one before, within a segment and across a tenant's
 * segments. Names every segment that was removed, altered, truncated or moved, and any file the
 * manifest does not list.
 */
import { createHash, type KeyObject } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import type { AuditEvent } from '../../../event/types.js'
import { chainHash, chainHashV1 } from '../../../integrity/canonical.js'
import { MANIFEST_FILE, readManifest, type SegmentEntry } from './manifest.js'

export type ArchiveProblemKind = 'manifest' | 'removed' | 'altered' | 'truncated' | 'reordered' | 'chain' | 'gap' | 'unlisted'

export interface ArchiveProblem {
  kind: ArchiveProblemKind
  /** The segment file concerned (null: the manifest as a whole). */
  segment: string | null
  detail: string
}

export interface ArchiveVerdict {
  intact: boolean
  segments: number
  events: number
  tenants: { tenant_id: string; first_seq: number; last_seq: number }[]
  problems: ArchiveProblem[]
}

interface Line {
  seq: number
  hash: string
  event: AuditEvent
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

/** Either chain format: events chained before format 2 keep format 1. */
const linksFrom = (prevHash: string, line: Line) => chainHash(prevHash, line.event) === line.hash || chainHashV1(prevHash, line.event) === line.hash

export async function verifyArchive(dir: string, publicKey: KeyObject): Promise<ArchiveVerdict> {
  const problems: ArchiveProblem[] = []
  let manifestText: string
  try {
    manifestText = await readFile(path.join(dir, MANIFEST_FILE), 'utf8')
  } catch (error) {
    return { intact: false, segments: 0, events: 0, tenants: [], problems: [{ kind: 'manifest', segment: null, detail: `no readable ${MANIFEST_FILE} in ${dir}: ${(error as Error).message}` }] }
  }
  const { entries, problem } = readManifest(manifestText, publicKey)
  if (problem) {
    const named = problem.entry === null ? null : (entries[problem.entry - 1]?.file ?? manifestFileAt(manifestText, problem.entry))
    problems.push({ kind: 'manifest', segment: named, detail: problem.problem })
  }
  const files = new Map<string, Buffer>()
  for (const name of await readdir(dir)) if (name.endsWith('.ndjson.gz')) files.set(name, await readFile(path.join(dir, name)))
  const bySha = new Map(entries.map((entry) => [entry.sha256, entry]))
  const lastOfTenant = new Map<string, SegmentEntry>()
  const open = new Set(lastOpenSegments(entries))
  let events = 0
  for (const entry of entries) {
    const content = files.get(entry.file)
    if (content === undefined) {
      problems.push({ kind: 'removed', segment: entry.file, detail: `segment ${entry.n} (tenant ${entry.tenant_id}, seq ${entry.first_seq}..${entry.last_seq}) is missing` })
      lastOfTenant.set(entry.tenant_id, entry)
      continue
    }
    const listed = content.length > entry.bytes && open.has(entry.file) ? content.subarray(0, entry.bytes) : content
    if (sha256(listed) !== entry.sha256) {
      const moved = bySha.get(sha256(content))
      if (moved && moved.file !== entry.file) problems.push({ kind: 'reordered', segment: entry.file, detail: `holds the content of segment ${moved.n} (${moved.file}), not its own` })
      else if (content.length < entry.bytes) problems.push({ kind: 'truncated', segment: entry.file, detail: `${content.length} bytes, the manifest lists ${entry.bytes}` })
      else problems.push({ kind: 'altered', segment: entry.file, detail: `its SHA-256 is not the one the manifest lists` })
      lastOfTenant.set(entry.tenant_id, entry)
      continue
    }
    events += checkEvents(entry, listed, lastOfTenant.get(entry.tenant_id), problems)
    lastOfTenant.set(entry.tenant_id, entry)
  }
  const listedFiles = new Set(entries.map((entry) => entry.file))
  for (const name of files.keys()) if (!listedFiles.has(name)) problems.push({ kind: 'unlisted', segment: name, detail: 'a segment file the manifest does not list' })
  const tenants = [...new Set(entries.map((entry) => entry.tenant_id))].sort().map((tenant) => {
    const own = entries.filter((entry) => entry.tenant_id === tenant)
    return { tenant_id: tenant, first_seq: own[0]!.first_seq, last_seq: own.at(-1)!.last_seq }
  })
  return { intact: problems.length === 0, segments: entries.length, events, tenants, problems }
}

/** Checks a segment whose bytes match its entry: its lines, seqs and chain links. Returns its event count. */
function checkEvents(entry: SegmentEntry, content: Buffer, before: SegmentEntry | undefined, problems: ArchiveProblem[]): number {
  let lines: Line[]
  try {
    lines = gunzipSync(content).toString('utf8').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Line)
  } catch (error) {
    problems.push({ kind: 'altered', segment: entry.file, detail: `does not decompress to NDJSON: ${(error as Error).message}` })
    return 0
  }
  const chain = (detail: string) => problems.push({ kind: 'chain', segment: entry.file, detail })
  if (before && entry.first_seq !== before.last_seq + 1) {
    problems.push({ kind: 'gap', segment: entry.file, detail: `tenant ${entry.tenant_id}: seq ${before.last_seq + 1}..${entry.first_seq - 1} are in no segment (between ${before.file} and this one)` })
  }
  if (lines.length !== entry.events) chain(`holds ${lines.length} events, the manifest lists ${entry.events}`)
  let prev: Line | undefined
  for (const [index, line] of lines.entries()) {
    const seq = entry.first_seq + index
    if (line.seq !== seq || line.event.tenant_id !== entry.tenant_id) return (chain(`line ${index + 1} is seq ${line.seq} of tenant ${line.event.tenant_id}, expected seq ${seq} of ${entry.tenant_id}`), lines.length)
    if (prev && !linksFrom(prev.hash, line)) return (chain(`seq ${line.seq} does not hash from seq ${prev.seq}: an event was changed`), lines.length)
    if (!prev && before && before.last_seq + 1 === line.seq && !linksFrom(before.last_hash, line)) {
      return (chain(`seq ${line.seq} does not hash from the last event of ${before.file}`), lines.length)
    }
    prev = line
  }
  if (lines[0]?.hash !== entry.first_hash || prev?.hash !== entry.last_hash) chain('its first or last event is not the one the manifest lists')
  return lines.length
}

/** The newest segment of each tenant, if not sealed: bytes past what it lists were never confirmed. */
function lastOpenSegments(entries: readonly SegmentEntry[]): string[] {
  const last = new Map<string, SegmentEntry>()
  for (const entry of entries) last.set(entry.tenant_id, entry)
  return [...last.values()].filter((entry) => !entry.sealed).map((entry) => entry.file)
}

/** The file named on a manifest line that failed to check (best effort, for the message). */
function manifestFileAt(text: string, entry: number): string | null {
  const line = text.split('\n')[entry - 1]
  const match = line ? /"file":"([^"]+)"/.exec(line) : null
  return match?.[1] ?? null
}
