import type { Command } from 'commander'
import { configFromEnv, loadConfig, type Config, type ConfigInput } from '../config.js'
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

/** Where the configured store lives, as `openStore` takes it. */
export function storeLocation(config: Config) {
  return { databaseUrl: config.databaseUrl, databaseSchema: config.databaseSchema, dataDir: config.dataDir, embeddedDriver: config.embeddedDriver }
}

/** CLI commands other than `serve` log warnings only: their stdout is the product. */
export function commandLogger(config: Config, defaultLevel = 'warn'): Logger {
  const explicit = process.env.AUDITQ_LOG_LEVEL !== undefined || process.argv.some((arg) => arg === '--log-level' || arg.startsWith('--log-level='))
  return createLogger({ level: explicit ? config.logLevel : defaultLevel, name: 'auditq-cli', format: config.logFormat })
}

/** Filter flags shared by query and export, as CLI flags → wire names. */
export const FILTER_FLAGS = [
  ['--actor-id <id>', 'actor_id', 'actorId'],
  ['--action <action>', 'action', 'action'],
  ['--category <category>', 'category', 'category'],
  ['--resource-type <type>', 'resource_type', 'resourceType'],
  ['--resource-id <id>', 'resource_id', 'resourceId'],
  ['--success <bool>', 'success', 'success'],
  ['--tenant-id <tenant>', 'tenant_id', 'tenantId'],
  ['--from <time>', 'from', 'from'],
  ['--to <time>', 'to', 'to'],
] as const

export function addFilterFlags(command: Command): Command {
  for (const [flag, wire] of FILTER_FLAGS) command.option(flag, `filter on ${wire}`)
  return command
}

export function filterFromFlags(options: Record<string, unknown>): Record<string, unknown> {
  const raw: Record<string, unknown> = {}
  for (const [, wire, camel] of FILTER_FLAGS) if (options[camel] !== undefined) raw[wire] = options[camel]
  return raw
}
