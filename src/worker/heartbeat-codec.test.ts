import { describe, expect, it } from 'vitest'
import { decodeHeartbeat, encodeHeartbeat, type WorkerHeartbeat } from './heartbeat.js'

const beat: WorkerHeartbeat = {
  pid: 4242,
  queue_length: 17,
  oldest_event_age_ms: 250,
  current_batch_size: 500,
  inserts_last_minute: 12_000,
  failures_last_minute: 2,
  batches_last_minute: 30,
  avg_batch_time_ms: 41,
  total_stored: 1_000_000,
  total_dead_lettered: 3,
}

describe('worker heartbeat record', () => {
  it('reads back what the worker wrote, through the JSON the queue stores', () => {
    expect(decodeHeartbeat(JSON.parse(JSON.stringify(encodeHeartbeat(beat))))).toEqual(beat)
  })

  it('reads a missing or non-numeric field as 0, so one odd heartbeat cannot break the monitoring', () => {
    const decoded = decodeHeartbeat({ total_stored: '12', current_batch_size: 'lots' })
    expect(decoded.total_stored).toBe(12)
    expect(decoded.current_batch_size).toBe(0)
    expect(decoded.inserts_last_minute).toBe(0)
  })
})
