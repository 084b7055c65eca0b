/**
 * `--busy-neighbour`: a no-streams baseline with the delivery CPUs kept busy by a process that
 * does not touch auditq, PostgreSQL or Redis. The two-hosts layout puts both sides on one machine,
 * and a busy core slows its neighbour (shared caches and memory bandwidth, and on a virtual machine
 * whatever the host shares beneath it), so part of what the streams rounds lose is not streaming.
 * Against this baseline the change is what streaming costs beyond the neighbour being busy at all.
 * The load mixes memory traffic (a 64 MB scan), JSON and hashing, about what the delivery side does.
 */
import { spawn, type ChildProcess } from 'node:child_process'

const LOOP = `
const crypto = require('node:crypto')
const buf = Buffer.alloc(64 * 1024 * 1024, 1)
let x = 0
for (;;) {
  for (let i = 0; i < buf.length; i += 4096) x ^= buf[i]
  for (let i = 0; i < 200; i++) JSON.parse(JSON.stringify({ a: 'x'.repeat(300), n: i }))
  crypto.createHash('sha256').update(buf.subarray(0, 1 << 20)).digest()
}`

/** Starts the load on the CPUs `prefix` (a `taskset -c` argv) names; stop it with `stopNeighbour`. */
export function startNeighbour(prefix: string[]): ChildProcess {
  const argv = [...prefix, process.execPath, '-e', LOOP]
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' })
  // A round that throws ends the bench; the load must not outlive it.
  const onExit = () => child.kill('SIGKILL')
  process.once('exit', onExit)
  child.once('exit', () => process.off('exit', onExit))
  return child
}

export async function stopNeighbour(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}
