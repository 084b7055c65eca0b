// Durability after kill -9. A child process inserts batches and prints each batch's ids only after
// the insert has resolved (= acknowledged). The parent SIGKILLs it at a random moment, reopens the
// data dir and checks that every acknowledged id is there.
// Usage: node bench/embedded-eval/crash.mjs [runs=20] [candidate ...]
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CANDIDATES, auditRow, openCandidate } from './candidates.mjs'

const self = fileURLToPath(import.meta.url)

if (process.argv[2] === '--child') {
  const [, , , name, dir] = process.argv
  const store = await openCandidate(name, dir)
  // process.stdout on a pipe writes synchronously on Linux: the ACK line is in the pipe before the
  // next batch starts, so whatever the parent reads was acknowledged before the kill.
  process.stdout.write('READY\n')
  for (let seq = 0; ; ) {
    const size = 1 + Math.floor(Math.random() * 200)
    const rows = Array.from({ length: size }, () => auditRow(seq++))
    await store.insertBatch(rows)
    process.stdout.write(`ACK ${rows.map((row) => row.id).join(',')}\n`)
  }
}

async function crashOnce(name, killAfterMs) {
  const dir = mkdtempSync(path.join(tmpdir(), `auditq-crash-${name}-`))
  try {
    const child = spawn(process.execPath, [self, '--child', name, dir], { stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    const ready = new Promise((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        output += chunk
        if (output.startsWith('READY\n')) resolve()
      })
      child.on('exit', (code, signal) => reject(new Error(`child exited early: ${code ?? signal}`)))
    })
    const exited = new Promise((resolve) => child.on('exit', resolve))
    await ready
    await new Promise((resolve) => setTimeout(resolve, killAfterMs))
    child.kill('SIGKILL')
    await exited
    // Only complete lines count: a line cut by the kill was never fully acknowledged.
    const lines = output.split('\n').slice(0, -1).filter((line) => line.startsWith('ACK '))
    const acked = lines.flatMap((line) => line.slice(4).split(','))
    const store = await openCandidate(name, dir)
    try {
      const missing = await store.missing(acked)
      const stored = await store.count()
      return { batches: lines.length, acked: acked.length, missing: missing.length, stored, integrity: await store.integrity() }
    } finally {
      await store.close()
    }
  } catch (error) {
    return { error: String(error?.message ?? error) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[2] !== '--child') {
  const runs = Number(process.argv[2] ?? 20)
  const names = process.argv.length > 3 ? process.argv.slice(3) : Object.keys(CANDIDATES)
  console.log('candidate\trun\tkill after ms\tacked batches\tacked ids\tmissing\tstored\tintegrity/error')
  const summary = {}
  for (const name of names) {
    summary[name] = { runs: 0, acked: 0, missing: 0, failedReopen: 0 }
    for (let run = 1; run <= runs; run++) {
      const killAfterMs = 50 + Math.floor(Math.random() * 1000)
      const r = await crashOnce(name, killAfterMs)
      const s = summary[name]
      s.runs++
      if (r.error) s.failedReopen++
      else {
        s.acked += r.acked
        s.missing += r.missing
      }
      console.log([name, run, killAfterMs, r.batches, r.acked, r.missing, r.stored, r.error ?? r.integrity].join('\t'))
    }
  }
  for (const [name, s] of Object.entries(summary)) {
    console.log(`${name}: ${s.runs} kills, ${s.acked} acknowledged ids, ${s.missing} missing, ${s.failedReopen} runs failed`)
  }
}
