import { mkdir, open, unlink } from 'node:fs/promises'
import path from 'node:path'
import type { AuditEvent } from '../../event/types.js'
import { replaceFileDurably, writeCheckpoint, type Checkpoint } from './durable-fs.js'
import { SEGMENT_HEADER_BYTES } from './format.js'
import { segmentOrder, segmentPath, startingPoint, type JournalUnit } from './journal-unit.js'
import { readSegment } from './segment-reader.js'

export type Deliver = (events: AuditEvent[]) => Promise<void>

/** A damaged range of a segment, copied byte for byte to `file` before replay moved past it. */
export interface CorruptRange {
  file: string
  journal: string
  segment: number
  offset: number
  bytes: number
}

/** What one `replay` call did; `SpillJournal.stats()` keeps the running totals. */
export interface ReplayReport {
  delivered: number
  batches: number
  /** Journals of dead producers taken over by this call. */
  adopted: string[]
  corrupt: CorruptRange[]
  /** Bytes of torn tails ignored: writes a crashed producer never acknowledged. */
  tornBytes: number
  /**
   * Set when this call's last checkpoint write failed (e.g. ENOSPC on a copy-on-write filesystem).
   * Replay went on from its in-memory position; a crash before the next good write replays the
   * events since the last good one again (duplicates the store absorbs).
   */
  checkpointError?: Error
}

export interface UnitReplay {
  unit: JournalUnit
  deliver: Deliver
  batchSize: number
  corruptDir: string
  report: ReplayReport
  /**
   * For the journal this process appends to: the active segment and how far it is fsynced at the
   * start of the call. Replay stops there (later appends wait for the next call) and never deletes
   * it. Undefined for an adopted journal, whose writer is dead.
   */
  active?: { segment: number; syncedEnd: number }
}

/**
 * Delivers a journal's waiting records in order, `batchSize` at a time. The checkpoint moves only
 * after `deliver` resolved, so a crash or a throwing `deliver` redelivers at most the batch in
 * flight. Returns whether the journal is now empty and finished (an adopted one: remove it).
 */
export async function replayUnit(job: UnitReplay): Promise<'drained' | 'caught-up'> {
  const { unit, active } = job
  const from = await startingPoint(unit)
  const order = segmentOrder(unit)
  for (const [index, seq] of order.entries()) {
    if (seq < from.segment) continue // passed by the checkpoint; loadAdoptedUnit already unlinked it
    const isActive = active?.segment === seq
    const limit = isActive ? active.syncedEnd : unit.segments.get(seq)!
    const start = seq === from.segment ? from.offset : SEGMENT_HEADER_BYTES
    // Only where a dead writer stopped can damage be a write it never finished (and never acked).
    const mayEndTorn = !active && index === order.length - 1
    await replaySegment(job, seq, start, limit, mayEndTorn)
    if (isActive) return 'caught-up'
    const next = order[index + 1]
    if (next === undefined && !active) return 'drained'
    if (next === undefined) {
      // The own journal's last segment, sealed after a failed write or roll: delivered, so it goes.
      await unlink(segmentPath(unit, seq))
      unit.segments.delete(seq)
      return 'caught-up'
    }
    await saveCheckpoint(job, { segment: next, offset: SEGMENT_HEADER_BYTES })
    // Unlinked even when that checkpoint failed: a checkpoint naming a segment that is gone means
    // "start at the next one", so the unlink is itself the acknowledgement, and it frees space.
    await unlink(segmentPath(unit, seq))
    unit.segments.delete(seq)
  }
  return active ? 'caught-up' : 'drained'
}

async function replaySegment(job: UnitReplay, seq: number, start: number, limit: number, mayEndTorn: boolean) {
  const { unit, report } = job
  let batch: AuditEvent[] = []
  let batchBytes = 0
  let batchEnd = start
  const deliverBatch = async () => {
    if (batch.length === 0) return
    await job.deliver(batch)
    await saveCheckpoint(job, { segment: seq, offset: batchEnd })
    unit.events -= batch.length
    unit.bytes -= batchBytes
    report.delivered += batch.length
    report.batches += 1
    batch = []
    batchBytes = 0
  }
  for await (const item of readSegment(segmentPath(unit, seq), start, limit)) {
    if (item.kind === 'record') {
      batch.push(item.event)
      batchBytes += item.end - item.offset
      batchEnd = item.end
      if (batch.length >= job.batchSize) await deliverBatch()
      continue
    }
    // Deliver what came before the damage first: the checkpoint can only move over the damage
    // once everything before it is delivered.
    await deliverBatch()
    if (item.toLimit && mayEndTorn) {
      report.tornBytes += item.end - item.offset
      return
    }
    report.corrupt.push(await moveAside(job, seq, item.offset, item.end))
    await saveCheckpoint(job, { segment: seq, offset: item.end })
    batchEnd = item.end
  }
  await deliverBatch()
}

/**
 * Records that everything before `position` was delivered: in memory first (so this process never
 * delivers it again), then on disk. A failed disk write does not stop replay — stopping would leave
 * the delivered batch unacknowledged and deliver it again on every attempt, for ever, on a full
 * disk — it is reported (`report.checkpointError`) and the next good write catches up.
 */
async function saveCheckpoint(job: UnitReplay, position: Checkpoint): Promise<void> {
  job.unit.position = position
  try {
    await writeCheckpoint(job.unit.dir, position)
    delete job.report.checkpointError
  } catch (error) {
    job.report.checkpointError = error as Error
  }
}

/** Copies a damaged range to `corrupt/` (durably) so replay can move past it without dropping it. */
async function moveAside(job: UnitReplay, seq: number, offset: number, end: number): Promise<CorruptRange> {
  const source = await open(segmentPath(job.unit, seq), 'r')
  const bytes = Buffer.alloc(end - offset)
  try {
    await source.read(bytes, 0, bytes.length, offset)
  } finally {
    await source.close()
  }
  await mkdir(job.corruptDir, { recursive: true })
  const file = path.join(job.corruptDir, `${job.unit.id}-${seq}-${offset}.bin`)
  await replaceFileDurably(file, bytes)
  return { file, journal: job.unit.id, segment: seq, offset, bytes: bytes.length }
}
