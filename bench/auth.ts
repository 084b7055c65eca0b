/**
 * What security costs per request and per event, against a same-run baseline:
 *   - a whole GET /v1/events?limit=1 through fastify (inject): open mode vs a cached API key;
 *   - resolving a key: cached, and uncached from each key store (the cost a revocation TTL of 0 would put on every request);
 *   - validating an event: without vs with redaction (default list, metadata with and without a secret).
 *
 *   npm run bench:auth [-- --runs 5 --database-url …]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { FastifyRequest } from 'fastify'
import pg from 'pg'
import { generateKey } from '../src/auth/api-key.js'
import type { KeyStore } from '../src/auth/key-store.js'
import { createKeyResolver } from '../src/auth/resolver.js'
import { loadConfig } from '../src/config.js'
import { redactEvent, redactionPolicy } from '../src/event/redact.js'
import { validateEvent } from '../src/event/validate.js'
import { OPEN_PRINCIPAL } from '../src/auth/principal.js'
import { buildServer } from '../src/http/server.js'
import { createAuditLogger } from '../src/sdk/audit-logger.js'
import { openStore } from '../src/store/open-store.js'
import { createLogger } from '../src/util/logger.js'
import { sampleEvent } from './event.js'
import { median, printTable } from './stats.js'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    'database-url': { type: 'string', default: process.env.AUDITQ_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
})
const RUNS = Number(values.runs)

/** µs per call of `fn`, over `n` sequential calls. */
async function perCall(n: number, fn: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < Math.min(n, 500); i++) await fn(i) // warm-up
  const started = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await fn(i)
  return Number(process.hrtime.bigint() - started) / 1000 / n
}

async function withKeyStore(kind: 'embedded' | 'postgres', fn: (keys: KeyStore) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'auditq-bench-auth-'))
  const schema = `bench_auth_${process.pid}`
  const location = kind === 'embedded' ? { dataDir } : { databaseUrl: values['database-url'], databaseSchema: schema, dataDir }
  const store = await openStore(location)
  try {
    await fn(store.keys)
  } finally {
    await store.close()
    rmSync(dataDir, { recursive: true, force: true })
    if (kind === 'postgres') {
      const client = new pg.Client({ connectionString: values['database-url'] })
      await client.connect()
      await client.query(`drop schema if exists "${schema}" cascade`)
      await client.end()
    }
  }
}

async function addKey(keys: KeyStore): Promise<string> {
  const generated = generateKey()
  await keys.insert({ id: generated.keyId, tenant_id: 'bench', scopes: ['ingest', 'read', 'admin'], name: null, secret_hash: generated.secretHash, created_at: new Date().toISOString(), revoked_at: null })
  return generated.key
}

const rows: Record<string, number[]> = {}
const record = (name: string, value: number) => (rows[name] ??= []).push(value)

for (let run = 0; run < RUNS; run++) {
  // Whole request through fastify: same store, same query, open vs keyed.
  await withKeyStore('embedded', async (keys) => {
    const logger = createLogger({ level: 'silent' })
    const config = loadConfig({ security: { rateLimitPerSecond: 0 } })
    const dataDir = mkdtempSync(join(tmpdir(), 'auditq-bench-auth-app-'))
    const audit = await createAuditLogger({ dataDir, logger })
    await audit.log({ action: 'bench.seed' })
    const key = await addKey(keys)
    const resolver = createKeyResolver({ keys, cacheTtlMs: 10_000 })
    const open = await buildServer({ config, audit, logger, resolvePrincipal: () => OPEN_PRINCIPAL })
    const keyed = await buildServer({ config, audit, logger, resolvePrincipal: resolver.resolve })
    const headers = { authorization: `Bearer ${key}` }
    record('GET /v1/events?limit=1, open mode (µs/request)', await perCall(3_000, () => open.inject({ method: 'GET', url: '/v1/events?limit=1' })))
    record('GET /v1/events?limit=1, cached API key (µs/request)', await perCall(3_000, () => keyed.inject({ method: 'GET', url: '/v1/events?limit=1', headers })))
    await open.close()
    await keyed.close()
    await audit.close()
    rmSync(dataDir, { recursive: true, force: true })
  })
  for (const kind of ['embedded', 'postgres'] as const) {
    await withKeyStore(kind, async (keys) => {
      const key = await addKey(keys)
      const request = { headers: { authorization: `Bearer ${key}` } } as FastifyRequest
      const cached = createKeyResolver({ keys, cacheTtlMs: 60_000 })
      const uncached = createKeyResolver({ keys, cacheTtlMs: 0 })
      if (kind === 'embedded') record('resolve key, cached (µs)', await perCall(20_000, () => cached.resolve(request)))
      record(`resolve key, uncached, ${kind} key store (µs)`, await perCall(2_000, () => uncached.resolve(request)))
    })
  }
  const receivedAt = new Date()
  const plain = sampleEvent(1)
  const secret = { ...sampleEvent(2), metadata: { key_name: 'ci', permissions: ['read', 'write'], api_key: 'k', nested: { password: 'p' } } }
  const policy = redactionPolicy()
  record('validate typical event (µs)', await perCall(50_000, () => validateEvent(plain, { receivedAt })))
  record('validate + redact typical event (µs)', await perCall(50_000, () => {
    const result = validateEvent(plain, { receivedAt })
    if (result.ok) redactEvent(result.event, policy)
  }))
  record('validate + redact event with 2 secrets (µs)', await perCall(50_000, () => {
    const result = validateEvent(secret, { receivedAt })
    if (result.ok) redactEvent(result.event, policy)
  }))
}

printTable(['measure', `median of ${RUNS}`, 'all runs'], Object.entries(rows).map(([name, runs]) => [name, median(runs).toFixed(1), runs.map((r) => r.toFixed(1)).join(', ')]))
