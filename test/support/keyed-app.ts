import type { FastifyInstance } from 'fastify'
import { Writable } from 'node:stream'
import { generateKey } from '../../src/auth/api-key.js'
import type { KeyStore } from '../../src/auth/key-store.js'
import { createKeyResolver } from '../../src/auth/resolver.js'
import { loadConfig, type ConfigInput } from '../../src/config.js'
import type { Scope } from '../../src/auth/principal.js'
import { buildServer } from '../../src/http/server.js'
import { createAuditLogger, type AuditLogger } from '../../src/sdk/audit-logger.js'
import { createLogger } from '../../src/util/logger.js'
import { freshStore, type StoreKind, type TestStore } from './app.js'

export interface KeyedApp {
  app: FastifyInstance
  audit: AuditLogger
  keys: KeyStore
  /** Where the store lives, as `openStore` takes it: another process's view of the same data. */
  location: TestStore['location']
  /** http://127.0.0.1:<port> of the listening service. */
  baseUrl: string
  /** Every log line the service wrote, as text (pino at `trace`, so nothing is filtered out). */
  logText(): string
  /** Creates a key in the store and returns the whole key, as `auditq keys create` does. */
  createKey(tenant: string, scopes: Scope[], name?: string): Promise<{ key: string; id: string }>
  close(): Promise<void>
}

/**
 * The real service with API keys on a real store, listening on a loopback port: what `auditq
 * serve` runs, with its log captured in memory so tests can search it for secrets.
 */
export async function startKeyedApp(kind: StoreKind, overrides: Partial<ConfigInput> = {}): Promise<KeyedApp> {
  const { store, dispose, location } = await freshStore(kind)
  const config = loadConfig({ security: { rateLimitPerSecond: 0, failedAuthPerSecond: 0, keyCacheTtlMs: 0 } }, overrides)
  const lines: string[] = []
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'))
      done()
    },
  })
  // The service's own logger, at trace level so every request line is kept.
  const logger = createLogger({ level: 'trace', destination: sink })
  const audit = await createAuditLogger({ store, logger, redaction: { keys: config.security.redactKeys, ipTruncation: config.security.ipTruncation } })
  const keys = store.keys
  const resolver = createKeyResolver({ keys, cacheTtlMs: config.security.keyCacheTtlMs })
  const app = await buildServer({ config, audit, logger, resolvePrincipal: resolver.resolve })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  return {
    app,
    audit,
    keys,
    location,
    baseUrl: `http://127.0.0.1:${port}`,
    logText: () => lines.join(''),
    createKey: async (tenant, scopes, name) => {
      const generated = generateKey()
      await keys.insert({ id: generated.keyId, tenant_id: tenant, scopes, name: name ?? null, secret_hash: generated.secretHash, created_at: new Date().toISOString(), revoked_at: null })
      return { key: generated.key, id: generated.keyId }
    },
    close: async () => {
      await app.close()
      await audit.close()
      await dispose()
    },
  }
}
