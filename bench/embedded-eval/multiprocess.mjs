// Can a second process (a CLI `query`/import) use the data dir while the service is writing to it?
// The parent plays the service: it opens the store and commits a batch every 10 ms. Meanwhile a
// child opens the same dir, counts, inserts 100 rows, counts again and exits. Afterwards the
// parent reopens the dir and checks that every row either side acknowledged is there.
// Usage: node bench/embedded-eval/multiprocess.mjs [candidate ...]
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CANDIDATES, auditRow, openCandidate } from './candidates.mjs'

const self = fileURLToPath(import.meta.url)

if (process.argv[2] === '--child') {
  const [, , , name, dir] = process.argv
  const result = { opened: false }
  try {
    const store = await openCandidate(name, dir)
    result.opened = true
    result.countBefore = await store.count()
    const rows = Array.from({ length: 100 }, (_, i) => auditRow(1_000_000 + i))
    result.inserted = await store.insertBatch(rows)
    result.ids = rows.map((row) => row.id)
    result.countAfter = await store.count()
    await store.close()
  } catch (error) {
    result.error = String(error?.message ?? error)
  }
  process.stdout.write(JSON.stringify(result))
  process.exit(0)
}

function runChild(name, dir) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [self, '--child', name, dir], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.stdout.on('data', (chunk) => (out += chunk))
    child.stderr.on('data', (chunk) => (err += chunk))
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      try {
        resolve(JSON.parse(out))
      } catch {
        resolve({ opened: false, error: `exit ${code ?? signal}: ${err.trim().split('\n').slice(-3).join(' | ')}` })
      }
    })
  })
}

async function trial(name) {
  const dir = mkdtempSync(path.join(tmpdir(), `auditq-mp-${name}-`))
  const service = await openCandidate(name, dir)
  const acked = []
  const serviceErrors = []
  let running = true
  const writer = (async () => {
    for (let seq = 0; running; ) {
      const rows = Array.from({ length: 20 }, () => auditRow(seq++))
      try {
        await service.insertBatch(rows)
        acked.push(...rows.map((row) => row.id))
      } catch (error) {
        serviceErrors.push(String(error?.message ?? error))
      }
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  })()
  const cli = await runChild(name, dir)
  await new Promise((resolve) => setTimeout(resolve, 500)) // service keeps writing after the CLI left
  running = false
  await writer
  await service.close()
  let verdict
  try {
    const reopened = await openCandidate(name, dir)
    verdict = {
      missingServiceRows: (await reopened.missing(acked)).length,
      missingCliRows: (await reopened.missing(cli.ids ?? [])).length,
      integrity: await reopened.integrity(),
    }
    await reopened.close()
  } catch (error) {
    verdict = { reopenError: String(error?.message ?? error) }
  }
  rmSync(dir, { recursive: true, force: true })
  delete cli.ids
  return { cli, serviceAcked: acked.length, serviceErrors: serviceErrors.slice(0, 3), ...verdict }
}

const names = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(CANDIDATES)
const trials = Number(process.env.TRIALS ?? 3)
for (const name of names) {
  for (let i = 0; i < trials; i++) console.log(name, JSON.stringify(await trial(name)))
}
