import { describe, expect, it } from 'vitest'
import { CONFIG_DEFAULTS, configFromEnv, loadConfig } from './config.js'
import { renderSettingsTable } from './config/reference.js'
import { SETTINGS } from './config/settings.js'
import { AuditqError } from './errors.js'

describe('config', () => {
  it('defaults to the embedded store on loopback port 3000', () => {
    const config = loadConfig()
    expect(config.databaseUrl).toBeUndefined()
    expect(config.dataDir).toBe('./.auditq')
    expect(config.host).toBe('127.0.0.1')
    expect(config.port).toBe(3000)
    expect(config.groupCommit.maxBatchEvents).toBe(500)
    expect(config.http.maxEventsPerRequest).toBe(1000)
  })

  it('reads AUDITQ_* variables and lets later sources override them', () => {
    const env = { AUDITQ_PORT: '4000', AUDITQ_DATABASE_URL: 'postgres://x@h/db', AUDITQ_DATA_DIR: '' }
    const config = loadConfig(configFromEnv(env), { port: 5000 })
    expect(config.port).toBe(5000)
    expect(config.databaseUrl).toBe('postgres://x@h/db')
    expect(config.dataDir).toBe('./.auditq')
  })

  it('reads the read-path limits from the environment and refuses a read pool of 0', () => {
    const env = {
      AUDITQ_DATABASE_READ_POOL_MAX: '4',
      AUDITQ_READ_STATEMENT_TIMEOUT_MS: '15000',
      AUDITQ_EXPORT_MAX_CONCURRENT: '3',
      AUDITQ_EXPORT_MAX_PER_TENANT: '2',
      AUDITQ_EXPORT_IDLE_TIMEOUT_MS: '5000',
      AUDITQ_VERIFY_MAX_CONCURRENT: '1',
      AUDITQ_REPORTS_MAX_PER_TENANT: '2',
      AUDITQ_DATABASE_READ_URL: 'postgres://replica:5432/audit',
      AUDITQ_READ_REPLICA_MAX_LAG_MS: '2500',
      AUDITQ_READ_REPLICA_PROBE_MS: '500',
    }
    const config = loadConfig(configFromEnv(env))
    expect(config.reads).toEqual({
      poolMax: 4, statementTimeoutMs: 15_000, exportMaxConcurrent: 3, exportMaxPerTenant: 2, exportIdleTimeoutMs: 5_000, verifyMaxConcurrent: 1,
      replicaUrl: 'postgres://replica:5432/audit', replicaMaxLagMs: 2_500, replicaProbeMs: 500,
    })
    expect(() => loadConfig(configFromEnv({ AUDITQ_DATABASE_READ_URL: 'mysql://x' }))).toThrowError(/reads\.replicaUrl/)
    expect(config.reports.maxPerTenant).toBe(2)
    expect(() => loadConfig(configFromEnv({ AUDITQ_DATABASE_READ_POOL_MAX: '0' }))).toThrowError(/reads\.poolMax/)
  })

  it('reads monitoring thresholds, alert webhooks and the log format from the environment', () => {
    const env = {
      AUDITQ_HEALTH_QUEUE_LENGTH: '200',
      AUDITQ_HEALTH_OLDEST_EVENT_SECONDS: '5.5',
      AUDITQ_HEALTH_FAIL_FROM: 'degraded',
      AUDITQ_ALERT_WEBHOOKS: 'https://hooks.slack.com/services/T/B/x, http://127.0.0.1:9000/alerts ,',
      AUDITQ_ALERT_COOLDOWN_MS: '60000',
      AUDITQ_LOG_FORMAT: 'json',
    }
    const config = loadConfig(configFromEnv(env))
    expect(config.monitoring.thresholds).toMatchObject({ queueLengthDegraded: 200, oldestEventAgeSecondsDegraded: 5.5, failuresPerMinuteCritical: 100, droppedEventsWarning: 1000 })
    expect(config.monitoring).toMatchObject({ healthFailFrom: 'degraded', alertCooldownMs: 60_000, alertWebhooks: ['https://hooks.slack.com/services/T/B/x', 'http://127.0.0.1:9000/alerts'] })
    expect(config.logFormat).toBe('json')
    expect(() => loadConfig(configFromEnv({ AUDITQ_ALERT_WEBHOOKS: 'ftp://x' }))).toThrowError(/alertWebhooks/)
    expect(() => loadConfig(configFromEnv({ AUDITQ_HEALTH_QUEUE_LENGTH: 'lots' }))).toThrowError(/queueLengthDegraded/)
  })

  it('reads queue settings and the PostgreSQL schema from the environment', () => {
    const env = { AUDITQ_REDIS_URL: 'redis://r:6379', AUDITQ_QUEUE_CAP: '50', AUDITQ_OVERFLOW_POLICY: 'drop', AUDITQ_QUEUE_NAME: 'q2', AUDITQ_DATABASE_SCHEMA: 'audit' }
    const config = loadConfig(configFromEnv(env))
    expect(config.redisUrl).toBe('redis://r:6379')
    expect(config.queue).toMatchObject({ capEvents: 50, overflowPolicy: 'drop', name: 'q2', prefix: 'auditq' })
    expect(config.databaseSchema).toBe('audit')
    expect(() => loadConfig(configFromEnv({ AUDITQ_OVERFLOW_POLICY: 'lose' }))).toThrowError(/overflowPolicy/)
  })

  it('merges nested sections key by key', () => {
    const config = loadConfig({ http: { maxEventsPerRequest: 10 } }, { http: { maxQueryLimit: 50 } })
    expect(config.http.maxEventsPerRequest).toBe(10)
    expect(config.http.maxQueryLimit).toBe(50)
  })

  it('rejects unknown keys and bad values, naming the setting', () => {
    expect(() => loadConfig({ port: 70_000 })).toThrowError(/port/)
    expect(() => loadConfig({ bogus: 1 } as never)).toThrowError(AuditqError)
    try {
      loadConfig({ databaseUrl: 'mysql://x' })
    } catch (error) {
      expect((error as AuditqError).code).toBe('AUDITQ_CONFIG')
      expect((error as AuditqError).message).toMatch(/databaseUrl/)
    }
  })

  it('is frozen', () => {
    const config = loadConfig()
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.http)).toBe(true)
  })
})

describe('settings table', () => {
  it('maps every environment variable once, onto a config key that exists', () => {
    const names = SETTINGS.map((setting) => setting.env)
    expect(new Set(names).size).toBe(names.length)
    for (const setting of SETTINGS) {
      // A value the schema accepts for most keys would be type-specific; an unknown key is refused
      // as `unrecognized` whatever the value, so only that is checked here.
      const config = configFromEnv({ [setting.env]: '1' })
      expect(() => loadConfig(config), setting.env).not.toThrowError(/Unrecognized key/i)
    }
  })

  it('sets each setting at its own path', () => {
    for (const setting of SETTINGS) {
      let node: unknown = configFromEnv({ [setting.env]: 'x' })
      for (const key of setting.path.split('.')) node = (node as Record<string, unknown>)[key]
      expect(node, setting.env).toEqual(setting.list ? ['x'] : 'x')
    }
  })

  it('shows the schema defaults in the generated reference', () => {
    const table = renderSettingsTable()
    expect(table).toContain(`| \`AUDITQ_PORT\` | \`--port\` | \`port\` | \`${CONFIG_DEFAULTS.port}\` |`)
    expect(table).toContain('| `AUDITQ_SPILL_DIR` |  | `queue.spillDir` | `<data dir>/spill` |')
    expect(table.split('\n')).toHaveLength(SETTINGS.length + 2)
  })
})
