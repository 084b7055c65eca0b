import type { Command } from 'commander'
import { openStore } from '../store/open-store.js'
import { commandConfig, storeLocation } from './context.js'

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('create or upgrade the schema (also done automatically at start)')
    .action(async (_options: unknown, command: Command) => {
      const config = commandConfig(command)
      const store = await openStore(storeLocation(config))
      try {
        const report = await store.migrate()
        process.stdout.write(`${store.kind} store at ${store.description}: schema version ${report.current}\n`)
      } finally {
        await store.close()
      }
    })
}
