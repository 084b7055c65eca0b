#!/usr/bin/env node
/**
 * Runs the Cloudflare examples locally in workerd (Miniflare), without wrangler:
 *
 *   npm run example:cloudflare                 # single-worker/ (fetch + queue in one Worker)
 *   npm run example:cloudflare -- split        # split/issuer + split/consumer
 *   npm run example:cloudflare -- split --smoke  # start, issue a token, wait for its audit event, exit
 *
 * Bindings, queues, retries and the dead-letter queue come from each example's wrangler.toml, so
 * what runs here is what `wrangler deploy` would configure. The D1 database is local and in
 * memory; the migrations in ./migrations are applied the way `wrangler d1 migrations apply` does.
 * `auditq/cloudflare` is bundled from this repository's TypeScript sources (no build needed).
 */
import { build } from 'esbuild'
import { Miniflare } from 'miniflare'
import { readFileSync, readdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = dirname(fileURLToPath(import.meta.url))
const REPO = resolve(HERE, '../..')

const args = process.argv.slice(2)
const layout = args.includes('split') ? 'split' : 'single-worker'
const smoke = args.includes('--smoke')
const portArg = args.indexOf('--port')
const port = smoke ? 0 : portArg >= 0 ? Number(args[portArg + 1]) : 8787

const workerDirs = layout === 'split' ? ['split/issuer', 'split/consumer'] : ['single-worker']

/** The subset of wrangler.toml these examples use: top-level keys and [[array.of.tables]] of scalars. */
export function parseWranglerToml(text) {
  const config = {}
  let target = config
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').trim()
    if (!line || line.startsWith('#')) continue
    const table = /^\[\[([\w.]+)\]\]$/.exec(line)
    if (table) {
      const path = table[1].split('.')
      let parent = config
      for (const key of path.slice(0, -1)) parent = parent[key] ??= {}
      target = {}
      ;(parent[path.at(-1)] ??= []).push(target)
      continue
    }
    const pair = /^(\w+)\s*=\s*(.+)$/.exec(line)
    if (!pair) throw new Error(`wrangler.toml: cannot read line: ${raw}`)
    target[pair[1]] = JSON.parse(pair[2])
  }
  return config
}

async function workerOptions(dir) {
  const toml = parseWranglerToml(readFileSync(join(HERE, dir, 'wrangler.toml'), 'utf8'))
  const bundle = await build({
    entryPoints: [join(HERE, dir, toml.main)],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    alias: { 'auditq/cloudflare': join(REPO, 'src/cloudflare/index.ts') },
    logLevel: 'warning',
  })
  const queueConsumers = {}
  for (const c of toml.queues?.consumers ?? []) {
    queueConsumers[c.queue] = {
      maxBatchSize: c.max_batch_size,
      maxBatchTimeout: c.max_batch_timeout,
      maxRetries: c.max_retries,
      deadLetterQueue: c.dead_letter_queue,
      retryDelay: c.retry_delay,
    }
  }
  return {
    name: toml.name,
    modules: true,
    script: bundle.outputFiles[0].text,
    compatibilityDate: toml.compatibility_date,
    d1Databases: Object.fromEntries((toml.d1_databases ?? []).map((d) => [d.binding, d.database_id])),
    queueProducers: Object.fromEntries((toml.queues?.producers ?? []).map((p) => [p.binding, { queueName: p.queue }])),
    queueConsumers,
    migrationsDir: join(HERE, dir, toml.d1_databases?.[0]?.migrations_dir ?? '../migrations'),
  }
}

/** Applies the migration files in order, each as one batch, as `wrangler d1 migrations apply` would. */
async function applyMigrations(db, dir) {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) {
    const statements = readFileSync(join(dir, file), 'utf8')
      .split(/;\n/)
      .map((s) => s.replace(/^--.*\n/gm, '').trim())
      .filter(Boolean)
    await db.batch(statements.map((s) => db.prepare(s)))
  }
}

async function main() {
  const workers = await Promise.all(workerDirs.map(workerOptions))
  // Unnamed: the issuer (first) receives HTTP. workerd picks its own port when we ask for 0.
  const mf = new Miniflare({
    host: '127.0.0.1',
    port,
    workers: workers.map(({ migrationsDir, ...options }) => options),
  })
  const url = await mf.ready
  await applyMigrations(await mf.getD1Database('AUDIT_DB', workers[0].name), workers[0].migrationsDir)
  const base = url.href.replace(/\/$/, '')
  if (smoke) {
    const ok = await runSmoke(base)
    await mf.dispose()
    process.exit(ok ? 0 : 1)
  }
  console.log(`auditq ${layout} example on ${base}  (Ctrl-C to stop)

  curl -XPOST ${base}/token -d '{"subject":"user:alice","client_id":"web"}'
  curl '${base}/audit/events?actor_id=user:alice'
  curl '${base}/audit/token-usage?token_id=<token_id from the first call>'
  curl '${base}/audit/report'`)
  const stop = async () => {
    await mf.dispose()
    process.exit(0)
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

/** Issue a token, then wait (bounded) for its audit event to be queryable: the queue path end to end. */
async function runSmoke(base) {
  const issued = await (await fetch(`${base}/token`, { method: 'POST', body: JSON.stringify({ subject: 'user:smoke', client_id: 'cli' }) })).json()
  const until = Date.now() + 20_000
  while (Date.now() < until) {
    const usage = await (await fetch(`${base}/audit/token-usage?token_id=${issued.token_id}`)).json()
    if (usage.token_usage?.length === 1) {
      const report = await (await fetch(`${base}/audit/report`)).json()
      console.log(JSON.stringify({ layout, issued, token_usage: usage.token_usage, total: report.total }))
      return report.total === 1
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  console.error(`smoke: the audit event for ${issued.token_id} never reached D1`)
  return false
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main()
