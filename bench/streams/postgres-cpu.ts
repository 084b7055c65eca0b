/**
 * CPU used by PostgreSQL on this machine, from Linux /proc: in the stream bench, what the database
 * spends per ingested event with and without the deliverers' feed reads, a figure the machine's
 * noise moves far less than the ingest rate. A backend that has exited is counted too: the
 * postmaster reaps it, and the kernel adds its CPU to the postmaster's children's time.
 */
import { readdirSync, readFileSync } from 'node:fs'

/** µs of CPU used so far by every running PostgreSQL process and every one that has exited. */
export function postgresCpuUs(): number {
  let total = 0
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const close = stat.lastIndexOf(')')
      if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue
      // After the command: state is field 0, utime 11, stime 12, cutime 13, cstime 14 (USER_HZ = 100).
      const fields = stat.slice(close + 2).split(' ')
      total += ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / 100) * 1e6
    } catch {
      // The process exited between the listing and the read: its time is in its parent's now.
    }
  }
  return total
}
