import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { processingKeyOf } from '../import/redis-list.js'
import { openStore, type OpenStoreOptions } from '../store/open-store.js'
import { oldLoggerItem } from '../../test/support/old-queue-items.js'
import { deleteKeys, redisAvailable, uniqueRedisPrefix } from '../../test/support/redis-server.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, REDIS_URL, uniqueSchema } from '../../test/support/services.js'

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'index.js')
const prefix = uniqueRedisPrefix('import-cli')
const schemas: string[] = []
const dirs: string[] = []
let redisUp = false
let postgresUp = false
let redis: Redis

beforeAll(async () => {
  redisUp = await redisAvailable()
  postgresUp = await postgresAvailable()
  if (redisUp) redis = new Redis(REDIS_URL)
})

afterAll(async () => {
  if (redisUp) {
    await deleteKeys(redis, prefix)
    redis.disconnect()
  }
  if (schemas.length > 0) await dropSchemas(schemas)
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

function startCli(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, AUDITQ_DATABASE_URL: '', AUDITQ_REDIS_URL: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  return { child, exited, output: () => ({ stdout, stderr }) }
}

async function storedSeqs(location: OpenStoreOptions): Promise<number[]> {
  const store = await openStore(location)
  try {
    const seqs: number[] = []
    for await (const event of store.stream({})) seqs.push((event.metadata as { seq: number }).seq)
    return seqs.sort((a, b) => a - b)
  } finally {
    await store.close()
  }
}

const TOTAL = 3_000

/** Fills a list, starts an import, SIGKILLs it while a batch is on the processing list, then re-runs it. */
async function killAndResume(name: string, location: OpenStoreOptions, env: NodeJS.ProcessEnv, storeArgs: string[]): Promise<void> {
  const key = `${prefix}:${name}:audit:queue`
  for (let start = 0; start < TOTAL; start += 500) {
    await redis.lpush(key, ...Array.from({ length: 500 }, (_, i) => oldLoggerItem(start + i)))
  }
  const args = [...storeArgs, 'import', 'redis-list', '--key', key, '--redis-url', REDIS_URL, '--batch', '25', '--json']
  const first = startCli(args, env)
  // Mid-drain: some batches done, one on the processing list (moved, not yet removed).
  const deadline = Date.now() + 60_000
  for (;;) {
    const [left, inFlight] = await Promise.all([redis.llen(key), redis.llen(processingKeyOf(key))])
    if (left < TOTAL - 200 && inFlight > 0) break
    if (Date.now() > deadline) throw new Error(`the import never got going: ${JSON.stringify(first.output())}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  first.child.kill('SIGKILL')
  expect((await first.exited).signal).toBe('SIGKILL')
  expect(await redis.llen(processingKeyOf(key))).toBeGreaterThan(0)
  expect(await redis.llen(key)).toBeGreaterThan(0)

  const second = startCli(args, env)
  const { code } = await second.exited
  expect(code, second.output().stderr).toBe(0)
  const summary = JSON.parse(second.output().stdout) as { imported: number; duplicates: number; invalid: number; remaining: number }
  expect(summary).toMatchObject({ invalid: 0, remaining: 0 })
  expect(summary.imported).toBeLessThan(TOTAL)
  // Every item exactly once: a lost one would be missing, one stored twice would repeat its seq.
  expect(await storedSeqs(location)).toEqual(Array.from({ length: TOTAL }, (_, i) => i))
  expect(await redis.exists(key, processingKeyOf(key))).toBe(0)
}

describe.runIf(() => redisUp)('auditq import redis-list (CLI)', () => {
  it('loses nothing and stores nothing twice when killed mid-drain and run again (embedded store)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'auditq-import-cli-'))
    dirs.push(dir)
    await killAndResume('embedded', { dataDir: dir }, {}, ['--data-dir', dir])
  }, 120_000)

  it('stops cleanly on SIGTERM: the batch in hand is settled, nothing is left in flight', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'auditq-import-cli-'))
    dirs.push(dir)
    const key = `${prefix}:sigterm:audit:queue`
    for (let start = 0; start < TOTAL; start += 500) await redis.lpush(key, ...Array.from({ length: 500 }, (_, i) => oldLoggerItem(start + i)))
    const run = startCli(['--data-dir', dir, 'import', 'redis-list', '--key', key, '--redis-url', REDIS_URL, '--batch', '25', '--json'], {})
    while ((await redis.llen(key)) > TOTAL - 200) await new Promise((resolve) => setTimeout(resolve, 5))
    run.child.kill('SIGTERM')
    expect((await run.exited).code, run.output().stderr).toBe(0)
    expect(run.output().stderr).toContain('stopped on a signal')
    const summary = JSON.parse(run.output().stdout) as { imported: number; remaining: number }
    expect(await redis.llen(processingKeyOf(key))).toBe(0)
    expect(summary.remaining).toBe(await redis.llen(key))
    expect(summary.imported + summary.remaining).toBe(TOTAL)
    expect((await storedSeqs({ dataDir: dir })).length).toBe(summary.imported)
  }, 60_000)

  it('prints a dry run without touching the list', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'auditq-import-cli-'))
    dirs.push(dir)
    const key = `${prefix}:dry:audit:queue`
    await redis.lpush(key, oldLoggerItem(1), '[]')
    const run = startCli(['--data-dir', dir, 'import', 'redis-list', '--key', key, '--redis-url', REDIS_URL, '--dry-run'], {})
    expect((await run.exited).code).toBe(0)
    expect(run.output().stdout).toBe('dry run, nothing changed: would import 1, duplicates skipped 0, invalid 1, remaining 2\n')
    expect(await redis.llen(key)).toBe(2)
  })

  it('names the source Redis it cannot reach, without its password', async () => {
    for (const source of ['redis-list', 'bullmq']) {
      const run = startCli(['import', source, source === 'bullmq' ? '--queue' : '--key', 'audit', '--redis-url', 'redis://:hunter2@127.0.0.1:1/3'], {})
      expect((await run.exited).code).toBe(1)
      expect(run.output().stderr).toMatch(/^auditq: cannot reach the Redis holding the queue at 127\.0\.0\.1:1\/3: .* \[AUDITQ_IMPORT_SOURCE_UNREACHABLE\]\n$/)
      expect(run.output().stderr).not.toContain('hunter2')
    }
  })

  it('refuses a bad --batch naming the flag', async () => {
    const run = startCli(['import', 'redis-list', '--key', `${prefix}:x`, '--batch', '0'], {})
    expect((await run.exited).code).toBe(2)
    expect(run.output().stderr).toContain('--batch must be a whole number from 1 to 10000 [AUDITQ_BAD_REQUEST]')
  })
})

describe.runIf(() => redisUp && postgresUp)('auditq import redis-list into PostgreSQL (CLI)', () => {
  it('loses nothing and stores nothing twice when killed mid-drain and run again', async () => {
    const schema = uniqueSchema('import_cli')
    schemas.push(schema)
    await killAndResume('postgres', { databaseUrl: POSTGRES_URL, databaseSchema: schema, dataDir: '' }, { AUDITQ_DATABASE_SCHEMA: schema }, ['--database-url', POSTGRES_URL])
  }, 120_000)
})
