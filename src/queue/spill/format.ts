/**
 * On-disk format of the spill journal (pure: no I/O).
 *
 * A segment file is an 8-byte header `AQSPILL1` followed by records, one per event:
 *
 *   offset 0  4 bytes  magic  FF 41 51 01   (0xFF, 'A', 'Q', format version 1)
 *   offset 4  4 bytes  payload length, uint32 little-endian
 *   offset 8  4 bytes  CRC-32 of (length bytes ‖ payload), uint32 little-endian
 *   offset 12 n bytes  payload: the AuditEvent as UTF-8 JSON
 *
 * Why 0xFF leads the magic: it never occurs in UTF-8, so it never occurs inside a payload, and the
 * resync after a damaged record cannot lock onto a "record" that is really the middle of an event.
 * Why the CRC covers the length: a flipped length bit is then caught like any payload damage.
 * Why one record per event (12 bytes on ~400): replay can checkpoint after any event, and damage
 * costs one event, not an append call's whole batch.
 */
import { crc32 } from 'node:zlib'
import { withAddedFields, type AuditEvent } from '../../event/types.js'

export const SEGMENT_HEADER = Buffer.from('AQSPILL1', 'latin1')
export const SEGMENT_HEADER_BYTES = SEGMENT_HEADER.length
export const RECORD_MAGIC = Buffer.from([0xff, 0x41, 0x51, 0x01])
export const RECORD_HEADER_BYTES = 12
/**
 * Largest payload accepted. Events are bounded far below this (metadata ≤ 16 KiB plus a few
 * bounded text fields); the cap is what lets a reader reject a damaged length without reading on.
 */
export const MAX_PAYLOAD_BYTES = 4 * 1024 * 1024

const SEGMENT_NAME = /^(\d{12})\.seg$/

export function segmentFileName(seq: number): string {
  return `${String(seq).padStart(12, '0')}.seg`
}

/** The segment's sequence number, or undefined when the name is not a segment's. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = SEGMENT_NAME.exec(name)
  return match ? Number(match[1]) : undefined
}

function recordChecksum(lengthBytes: Buffer, payload: Buffer): number {
  return crc32(payload, crc32(lengthBytes))
}

/** Frames events into one buffer, ready to be appended with a single write. */
export function encodeRecords(events: readonly AuditEvent[]): Buffer {
  const payloads = events.map((event) => Buffer.from(JSON.stringify(event), 'utf8'))
  let total = 0
  for (const payload of payloads) {
    if (payload.length > MAX_PAYLOAD_BYTES) {
      throw new RangeError(`a spilled event is ${payload.length} bytes as JSON; the limit is ${MAX_PAYLOAD_BYTES}`)
    }
    total += RECORD_HEADER_BYTES + payload.length
  }
  const out = Buffer.allocUnsafe(total)
  let at = 0
  for (const payload of payloads) {
    RECORD_MAGIC.copy(out, at)
    out.writeUInt32LE(payload.length, at + 4)
    out.writeUInt32LE(recordChecksum(out.subarray(at + 4, at + 8), payload), at + 8)
    payload.copy(out, at + RECORD_HEADER_BYTES)
    at += RECORD_HEADER_BYTES + payload.length
  }
  return out
}

export type RecordCheck =
  /** A whole, intact record: its event and its total size in bytes. */
  | { kind: 'record'; event: AuditEvent; bytes: number }
  /** `buf` ends before the record does; with more bytes it may still turn out whole. */
  | { kind: 'short'; needBytes: number }
  /** Not a record: wrong magic, impossible length, checksum mismatch or a payload that is not an event. */
  | { kind: 'bad' }

/** Checks whether `buf` begins with an intact record. `buf` may hold more bytes than the record. */
export function checkRecord(buf: Buffer): RecordCheck {
  if (buf.length < RECORD_HEADER_BYTES) {
    const prefix = Math.min(buf.length, RECORD_MAGIC.length)
    if (!buf.subarray(0, prefix).equals(RECORD_MAGIC.subarray(0, prefix))) return { kind: 'bad' }
    return { kind: 'short', needBytes: RECORD_HEADER_BYTES }
  }
  if (!buf.subarray(0, 4).equals(RECORD_MAGIC)) return { kind: 'bad' }
  const length = buf.readUInt32LE(4)
  if (length > MAX_PAYLOAD_BYTES) return { kind: 'bad' }
  const bytes = RECORD_HEADER_BYTES + length
  if (buf.length < bytes) return { kind: 'short', needBytes: bytes }
  const payload = buf.subarray(RECORD_HEADER_BYTES, bytes)
  if (recordChecksum(buf.subarray(4, 8), payload) !== buf.readUInt32LE(8)) return { kind: 'bad' }
  const event = parseEvent(payload)
  return event ? { kind: 'record', event, bytes } : { kind: 'bad' }
}

// The checksum already vouches for the bytes; this only refuses a record that a different writer
// (or a future format) put there, so replay never hands `deliver` something without an id.
function parseEvent(payload: Buffer): AuditEvent | undefined {
  try {
    const value: unknown = JSON.parse(payload.toString('utf8'))
    if (typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string') {
      // A record spilled by an older version lacks the fields added since: they were not sent.
      return withAddedFields(value as AuditEvent)
    }
  } catch {
    // Not JSON: reported by the caller as a damaged record, with its bytes kept in corrupt/.
  }
  return undefined
}

/** Where the next record magic starts in `buf` at or after `from`, or -1. */
export function findMagic(buf: Buffer, from: number): number {
  return buf.indexOf(RECORD_MAGIC, from)
}
