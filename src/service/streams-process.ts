/**
 * A process that only delivers streams (`auditq streams run`): it opens the store, runs the
 * stream deliverers and nothing else (no HTTP ingest, no queue, no maintenance). With
 * `AUDITQ_STREAMS_ENABLED=false` on the `serve`/`worker` processes, delivery's CPU and database
 * reads move out of the ingest processes; the leases let any number of these run side by side.
 */
import type { Registry } from 'prom-client'
import type { Config } from '../config.js'
import { AuditqError } from '../errors.js'
import { loadSigningKey } from '../integrity/signing-key-source.js'
import { newRegistry } from '../observability/metrics.js'
import { serveMetrics } from '../observability/metrics-server.js'
import { openStore, storeLocation } from '../store/open-store.js'
import type { Store } from '../store/store.js'
import type { Logger } from '../util/logger.js'
import type { Lifecycle } from './lifecycle.js'
import { niceThisProcess } from './process-nice.js'
import { startStreams } from './streams-setup.js'

export interface StreamsProcessOptions {
  role: 'streams'
  config: Config
  logger: Logger
  /** The registry stream metrics go to; a fresh one by default. */
  registry?: Registry
  /** Serve GET /metrics on this port (0 = any free port). */
  metricsPort?: number
}

export async function startStreamsProcess(options: StreamsProcessOptions, lifecycle: Lifecycle): Promise<{ store: Store; address?: string }> {
  const { config, logger } = options
  // Before anything runs, so every thread started from here on inherits it.
  niceThisProcess(config.streams.processNice, logger)
  const registry = options.registry ?? newRegistry()
  let address: string | undefined
  if (options.metricsPort !== undefined) {
    const server = await serveMetrics({ host: config.host, port: options.metricsPort, logger, render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }) })
    lifecycle.add('metrics server', () => server.close())
    address = server.url
    logger.info({ metrics_url: server.url }, 'stream metrics listening')
  }
  const store = await openStore({ ...storeLocation(config), logger })
  lifecycle.add('store', () => store.close())
  if (!store.streams || !store.feed) throw new AuditqError('AUDITQ_CONFIG', `auditq streams run: the ${store.kind} store has no streams`)
  // Archive streams sign their manifests with the checkpoint key.
  const signingKey = await loadSigningKey(config.integrity)
  // `streams.enabled` says whether serve/worker deliver; delivering is this process's only job, so
  // it delivers even where one environment (setting it false for serve) is shared by all.
  startStreams({ config: { ...config, streams: { ...config.streams, enabled: true } }, store, logger, registry, role: 'streams', lifecycle, signingKey })
  logger.info({ store: store.kind, location: store.description }, 'auditq delivering streams (no ingest in this process)')
  return { store, ...(address ? { address } : {}) }
}
