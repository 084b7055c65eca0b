/**
 * The scale benchmarks in sequence, each as its own npm script and process, with this run's
 * arguments passed through to every one (each script ignores the options it does not know):
 *
 *   npm run bench:scale -- --events 1000000
 *
 * bench:scale-queue (Redis Streams shards and workers), bench:partitions (the partitioned layout
 * against the plain table), bench:scale-replica (reads on a streaming replica under ingest). One
 * failing stops the sequence with its exit code.
 */
import { spawnSync } from 'node:child_process'

const SCRIPTS = ['bench:scale-queue', 'bench:partitions', 'bench:scale-replica']
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

for (const script of SCRIPTS) {
  process.stderr.write(`\n== ${script} ${process.argv.slice(2).join(' ')}\n`)
  const result = spawnSync(npm, ['run', '--silent', script, '--', ...process.argv.slice(2)], { stdio: 'inherit' })
  if (result.status !== 0) {
    process.stderr.write(`${script} failed (exit ${result.status ?? result.signal})\n`)
    process.exit(result.status ?? 1)
  }
}
