import type { Command } from 'commander'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { configFromEnv, loadConfig, type Config, type ConfigInput } from '../config.js'
import { AuditqError } from '../errors.js'
import { shreddingFromConfig } from '../shred/from-config.js'
import { openStore, storeLocation } from '../store/open-store.js'
import { withShredding } from '../store/shredding-store.js'
import type { Store } from '../store/store.js'
import { createLogger, type Logger } from '../util/logger.js'

export interface GlobalOptions {
  databaseUrl?: string
  redisUrl?: string
  dataDir?: string
  logLevel?: string
  logFormat?: string
}

/** Config for a command: environment first, then the global flags. */
export function commandConfig(command: Command, overrides: Partial<ConfigInput> = {}): Config {
  const globals = command.optsWithGlobals<GlobalOptions>()
  return loadConfig(
    configFromEnv(process.env),
    {
      databaseUrl: globals.databaseUrl,
      redisUrl: globals.redisUrl,
      dataDir: globals.dataDir,
      logLevel: globals.logLevel as ConfigInput['logLevel'],
      logFormat: globals.logFormat as ConfigInput['logFormat'],
    },
    overrides,
  )
}

export { storeLocation }

/**
 * The store for commands that read (or prune) what is already there: `query`, `export`, `report`,
 * `verify`, `checkpoint`, `cleanup`. Opening the embedded store creates it, so a mistyped or
 * missing `--data-dir` would otherwise answer "no events" (or an intact empty chain) from a store
 * made on the spot; say there is none instead, and leave the disk as it was.
 */
export async function openExistingStore(config: Config): Promise<Store> {
  if (!config.databaseUrl) {
    // Loaded only here: a PostgreSQL deployment never loads the embedded store's native module.
    const { EMBEDDED_DB_FILE } = await import('../store/embedded/embedded-store.js')
    const dir = path.resolve(config.dataDir)
    const problem = !existsSync(dir) ? 'the directory does not exist' : !existsSync(path.join(dir, EMBEDDED_DB_FILE)) ? `it holds no ${EMBEDDED_DB_FILE}` : undefined
    if (problem !== undefined) {
      throw new AuditqError(
        'AUDITQ_CONFIG',
        `no embedded store at ${dir}: ${problem}. Run \`auditq serve\` (or \`auditq migrate\`) there to create one, or point at the store with --data-dir DIR (env AUDITQ_DATA_DIR) or at PostgreSQL with --database-url`,
      )
    }
  }
  return openStore(storeLocation(config))
}

/**
 * The store for commands that show events (`query`, `export`, `report`): with crypto-shredding
 * configured, sealed values are revealed (or read `[erased]`) exactly as the service shows them.
 */
export async function openReadingStore(config: Config): Promise<Store> {
  const shredding = shreddingFromConfig(config)
  const store = await openExistingStore(config)
  return shredding ? withShredding(store, shredding).store : store
}

/** CLI commands other than `serve` log warnings only: their stdout is the product. */
export function commandLogger(config: Config, defaultLevel = 'warn'): Logger {
  const explicit = process.env.AUDITQ_LOG_LEVEL !== undefined || process.argv.some((arg) => arg === '--log-level' || arg.startsWith('--log-level='))
  return createLogger({ level: explicit ? config.logLevel : defaultLevel, name: 'auditq-cli', format: config.logFormat })
}

/**
 * What `--from`/`--to` take, as `parseInstant` reads them; the stores compare
 * `occurred_at >= from` and `occurred_at < to`, so consecutive ranges never count an event twice.
 */
export const TIME_FORMATS = 'ISO 8601: a date-time with a zone (2026-01-31T09:30:00Z, …+02:00), a date (2026-01-31 = UTC midnight), or epoch milliseconds'
export const FROM_HELP = `events at or after this time (inclusive); ${TIME_FORMATS}`
export const TO_HELP = 'events before this time (exclusive); same formats as --from'

/** Filter flags shared by query and export, as CLI flags → wire names, with their help. */
export const FILTER_FLAGS = [
  ['--actor-id <id>', 'actor_id', 'actorId', 'filter on actor_id'],
  ['--action <action>', 'action', 'action', 'filter on action'],
  ['--category <category>', 'category', 'category', 'filter on category: info | warning | critical'],
  ['--resource-type <type>', 'resource_type', 'resourceType', 'filter on resource_type'],
  ['--resource-id <id>', 'resource_id', 'resourceId', 'filter on resource_id'],
  ['--success <bool>', 'success', 'success', 'filter on success: true | false'],
  ['--tenant-id <tenant>', 'tenant_id', 'tenantId', 'filter on tenant_id'],
  ['--from <time>', 'from', 'from', FROM_HELP],
  ['--to <time>', 'to', 'to', TO_HELP],
] as const

export function addFilterFlags(command: Command): Command {
  for (const [flag, , , help] of FILTER_FLAGS) command.option(flag, help)
  return command
}

export function filterFromFlags(options: Record<string, unknown>): Record<string, unknown> {
  const raw: Record<string, unknown> = {}
  for (const [, wire, camel] of FILTER_FLAGS) if (options[camel] !== undefined) raw[wire] = options[camel]
  return raw
}
