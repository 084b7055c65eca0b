/**
 * What the tests of stream delivery across `auditq` processes share: a PostgreSQL schema of their
 * own, a real webhook receiver, and CLI child processes on that schema. Leases expire after 2 s
 * and deliverers rescan every 200 ms, so a handover happens within seconds. Everything is removed
 * after the file's tests, the children first.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process'
import { afterAll, beforeAll } from 'vitest'
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js'
import type { Store } from '../../src/store/store.js'
import { CLI, cliEnv } from './cli.js'
import { dropSchemas, postgresAvailable, POSTGRES_URL, uniqueSchema } from './services.js'
import { WebhookReceiver } from './webhook-receiver.js'

const SECRET = 'k'

export interface StreamsRig {
  /** False when PostgreSQL does not answer: the tests skip. */
  readonly available: boolean
  /** The store on the rig's schema, open from `beforeAll` on. */
  readonly store: Store
  /** Environment for `auditq` children: the rig's schema and the short lease and scan times. */
  readonly env: NodeJS.ProcessEnv
  readonly receiver: WebhookReceiver
  /** `auditq …args` as a child (stderr piped, the rest ignored), SIGKILLed after the tests if still running. */
  spawnCli(args: string[], extraEnv?: Record<string, string>): ChildProcess
  /** `auditq streams create <name>`: a webhook stream to the receiver, for the tenants acme and globex. */
  createWebhookStream(options: { name: string; batchSize: number }): SpawnSyncReturns<string>
}

/** Call inside a `describe`: registers the hooks that open and remove the rig. */
export function useStreamsRig(schemaPrefix: string): StreamsRig {
  const schema = uniqueSchema(schemaPrefix)
  const env = cliEnv({ AUDITQ_DATABASE_URL: POSTGRES_URL, AUDITQ_DATABASE_SCHEMA: schema, AUDITQ_STREAMS_LEASE_TTL_MS: '2000', AUDITQ_STREAMS_SCAN_MS: '200', AUDITQ_STREAMS_POLL_MS: '100', AUDITQ_LOG_LEVEL: 'warn' })
  const receiver = new WebhookReceiver(SECRET)
  const children: ChildProcess[] = []
  let available = true
  let store: Store | undefined

  beforeAll(async () => {
    available = await postgresAvailable()
    if (!available) return
    store = await createPostgresStore({ connectionString: POSTGRES_URL, schema })
    await store.migrate()
    await receiver.start()
  })
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
    await receiver.kill()
    if (!available) return
    await store?.close()
    await dropSchemas([schema])
  })

  return {
    get available() {
      return available
    },
    get store() {
      if (!store) throw new Error('the streams rig opens its store in beforeAll')
      return store
    },
    env,
    receiver,
    spawnCli(args, extraEnv = {}) {
      const child = spawn(process.execPath, [CLI, ...args], { env: { ...env, ...extraEnv }, stdio: ['ignore', 'ignore', 'pipe'] })
      children.push(child)
      return child
    },
    createWebhookStream({ name, batchSize }) {
      const args = ['streams', 'create', name, '--sink', 'webhook', '--url', receiver.url, '--secret', SECRET, '--batch-size', String(batchSize), '--tenants', 'acme,globex']
      return spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' })
    },
  }
}
