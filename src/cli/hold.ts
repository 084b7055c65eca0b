/** `auditq hold create|list|release`: legal holds that retention never deletes through. */
import type { Command } from 'commander'
import { AuditqError } from '../errors.js'
import { Holds } from '../retention/holds.js'
import type { LegalHold } from '../retention/retention-rules.js'
import type { Store } from '../store/store.js'
import { commandConfig, openExistingStore } from './context.js'
import { cliActor, cliRecorder } from './trail.js'

export function registerHold(program: Command): void {
  const hold = program.command('hold').description('legal holds: events they match are never deleted by retention until released')

  hold
    .command('create')
    .description("hold a tenant's events (all of them, one actor's, one resource's, or one actor's on one resource)")
    .requiredOption('--tenant <tenant>', 'the tenant whose events are held')
    .option('--actor <actor>', "hold only this actor's events")
    .option('--resource <type:id>', "hold only this resource's events, e.g. invoice:42")
    .requiredOption('--reason <text>', 'why (a case number, a request): recorded with the hold')
    .option('--json', 'print the hold as JSON')
    .action(async (options: { tenant: string; actor?: string; resource?: string; reason: string; json?: boolean }, command: Command) => {
      await withHolds(command, async (holds) => {
        const created = await holds.create({ tenant_id: options.tenant, actor_id: options.actor, resource: options.resource, reason: options.reason }, cliActor())
        if (options.json) process.stdout.write(JSON.stringify(created, null, 2) + '\n')
        else process.stdout.write(`${created.id}\n`)
        process.stderr.write(`held ${scope(created)}; retention deletes none of it until \`auditq hold release ${created.id}\`\n`)
      })
    })

  hold
    .command('list')
    .description('list active holds (all of them with --all)')
    .option('--tenant <tenant>', 'only this tenant')
    .option('--all', 'released holds too')
    .option('--json', 'print JSON instead of a table')
    .action(async (options: { tenant?: string; all?: boolean; json?: boolean }, command: Command) => {
      await withHolds(command, async (holds) => {
        const list = await holds.list({ ...(options.tenant ? { tenant_id: options.tenant } : {}), includeReleased: options.all === true })
        if (options.json) {
          process.stdout.write(JSON.stringify(list, null, 2) + '\n')
          return
        }
        if (list.length === 0) {
          process.stdout.write('no holds\n')
          return
        }
        const rows = [['ID', 'TENANT', 'SCOPE', 'REASON', 'CREATED', 'BY', 'RELEASED'], ...list.map((h) => [h.id, h.tenant_id, scope(h), h.reason, h.created_at, h.created_by, h.released_at ?? ''])]
        const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
        process.stdout.write(rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n') + '\n')
      })
    })

  hold
    .command('release <id>')
    .description('release a hold: the next retention run may delete what it kept')
    .option('--reason <text>', 'why it is released: recorded with the release')
    .action(async (id: string, options: { reason?: string }, command: Command) => {
      await withHolds(command, async (holds) => {
        const released = await holds.release(id, cliActor(), { reason: options.reason })
        process.stderr.write(`released hold ${released.id} (${scope(released)})\n`)
      })
    })
}

function scope(hold: LegalHold): string {
  const parts = [`tenant ${hold.tenant_id}`]
  if (hold.actor_id !== null) parts.push(`actor ${hold.actor_id}`)
  if (hold.resource_type !== null) parts.push(`resource ${hold.resource_type}:${hold.resource_id}`)
  return parts.join(', ')
}

async function withHolds(command: Command, fn: (holds: Holds) => Promise<void>): Promise<void> {
  const config = commandConfig(command)
  const store: Store = await openExistingStore(config)
  try {
    if (!store.retentionRules) throw new AuditqError('AUDITQ_CONFIG', `the ${store.kind} store has no legal holds`)
    const recorder = cliRecorder(store, config)
    const actor = cliActor()
    await fn(new Holds(store.retentionRules, (change) => recorder.record({ ...change, actor })))
    await recorder.close()
  } finally {
    await store.close()
  }
}
