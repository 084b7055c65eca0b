import { readdir, stat, unlink } from 'node:fs/promises'
import path from 'node:path'
import { readCheckpoint, type Checkpoint } from './durable-fs.js'
import { parseSegmentFileName, SEGMENT_HEADER_BYTES, segmentFileName } from './format.js'
import { readSegment } from './segment-reader.js'

/**
 * One journal directory as this process sees it: its own (being appended to) or an adopted one
 * (read-only, its writer dead). The counts are what `stats()` reports.
 */
export interface JournalUnit {
  id: string
  dir: string
  /** Segment sequence number → bytes of that file on disk (for the own journal: bytes written). */
  segments: Map<number, number>
  /** Intact records not yet delivered, and their bytes. */
  events: number
  bytes: number
  /**
   * How far replay has delivered, as this process knows it. Ahead of the checkpoint file when a
   * checkpoint write failed: replay goes on from here instead of delivering the same batch again.
   */
  position?: Checkpoint
}

export function newUnit(id: string, dir: string): JournalUnit {
  return { id, dir, segments: new Map(), events: 0, bytes: 0 }
}

export function segmentPath(unit: JournalUnit, seq: number): string {
  return path.join(unit.dir, segmentFileName(seq))
}

/** Segment numbers oldest first. */
export function segmentOrder(unit: JournalUnit): number[] {
  return [...unit.segments.keys()].sort((a, b) => a - b)
}

/** The replay position (this process's, else the checkpoint's), defaulting to the start of the oldest segment. */
export async function startingPoint(unit: JournalUnit): Promise<Checkpoint> {
  if (unit.position) return unit.position
  const saved = await readCheckpoint(unit.dir)
  if (saved) return saved
  return { segment: segmentOrder(unit)[0] ?? 1, offset: SEGMENT_HEADER_BYTES }
}

/**
 * Loads an adopted journal: its segments, minus those its checkpoint already passed (a crash came
 * between the checkpoint and the unlink), and a count of the records still waiting.
 */
export async function loadAdoptedUnit(id: string, dir: string): Promise<JournalUnit> {
  const unit = newUnit(id, dir)
  for (const name of await readdir(dir)) {
    const seq = parseSegmentFileName(name)
    if (seq !== undefined) unit.segments.set(seq, (await stat(path.join(dir, name))).size)
  }
  const from = await startingPoint(unit)
  for (const seq of segmentOrder(unit)) {
    if (seq < from.segment) {
      await unlink(segmentPath(unit, seq))
      unit.segments.delete(seq)
      continue
    }
    const start = seq === from.segment ? from.offset : SEGMENT_HEADER_BYTES
    for await (const item of readSegment(segmentPath(unit, seq), start, unit.segments.get(seq)!)) {
      if (item.kind !== 'record') continue
      unit.events += 1
      unit.bytes += item.end - item.offset
    }
  }
  return unit
}
