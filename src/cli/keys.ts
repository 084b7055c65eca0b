import type { Command } from 'commander'
import { generateKey, parseScopes } from '../auth/api-key.js'
import type { KeyStore } from '../auth/key-store.js'
import { AuditqError } from '../errors.js'
import { validateEvent } from '../event/validate.js'
import { openStore } from '../store/open-store.js'
import { commandConfig, storeLocation } from './context.js'
import { recordCliAccess } from './trail.js'

/** `auditq keys create|list|revoke`: the key is printed once, on stdout; only its hash is stored. */
export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('manage API keys (create prints the key once; only a hash is stored)')

  keys
    .command('create')
    .description('create a key bound to one tenant; prints the key on stdout')
    .requiredOption('--tenant <tenant>', 'the tenant every request with this key is bound to')
    .requiredOption('--scopes <scopes>', 'comma-separated: ingest, read, admin, viewer (mints viewer tokens only)')
    .option('--name <name>', 'a label to recognise the key by (e.g. the service using it)')
    .action(async (options: { tenant: string; scopes: string; name?: string }, command: Command) => {
      const scopes = parseScopes(options.scopes)
      checkTenant(options.tenant)
      if (options.name !== undefined && (options.name.length > 200 || /[\u0000-\u001f]/.test(options.name))) {
        throw new AuditqError('AUDITQ_BAD_REQUEST', '--name must be at most 200 characters without control characters')
      }
      await withKeyStore(command, async (store, record) => {
        const generated = generateKey()
        const createdAt = new Date().toISOString()
        // Recorded before it takes effect: a key that exists without a record of who made it must not happen.
        await record('key.create', options.tenant, { key_id: generated.keyId, scopes, name: options.name ?? null })
        await store.insert({ id: generated.keyId, tenant_id: options.tenant, scopes, name: options.name ?? null, secret_hash: generated.secretHash, created_at: createdAt, revoked_at: null })
        process.stdout.write(`${generated.key}\n`)
        process.stderr.write(`created key ${generated.keyId} for tenant ${options.tenant} (${scopes.join(', ')}); store it now, it cannot be shown again\n`)
      })
    })

  keys
    .command('list')
    .description('list keys (never their secrets)')
    .option('--json', 'print JSON instead of a table')
    .action(async (options: { json?: boolean }, command: Command) => {
      await withKeyStore(command, async (store) => {
        const records = await store.list()
        if (options.json) {
          process.stdout.write(JSON.stringify(records, null, 2) + '\n')
          return
        }
        if (records.length === 0) {
          process.stdout.write('no keys (the service runs open on loopback only)\n')
          return
        }
        const rows = [['ID', 'TENANT', 'SCOPES', 'NAME', 'CREATED', 'REVOKED'], ...records.map((r) => [r.id, r.tenant_id, r.scopes.join(','), r.name ?? '', r.created_at, r.revoked_at ?? ''])]
        const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
        process.stdout.write(rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n') + '\n')
      })
    })

  keys
    .command('revoke <id>')
    .description('revoke a key; the service stops accepting it within security.keyCacheTtlMs (10 s by default)')
    .action(async (id: string, _options: unknown, command: Command) => {
      await withKeyStore(command, async (store, record) => {
        const key = await store.findById(id)
        if (!key || key.revoked_at !== null) throw new AuditqError('AUDITQ_NOT_FOUND', `no active key with id ${JSON.stringify(id.slice(0, 40))}`)
        // Recorded before it takes effect, like every change that widens what can happen unseen.
        await record('key.revoke', key.tenant_id, { key_id: id, name: key.name })
        if (!(await store.revoke(id, new Date()))) throw new AuditqError('AUDITQ_NOT_FOUND', `no active key with id ${JSON.stringify(id.slice(0, 40))}`)
        process.stderr.write(`revoked key ${id}\n`)
      })
    })
}

/** Tenants follow the event rule, so a key can never be bound to a tenant no event could name. */
function checkTenant(tenant: string): void {
  const result = validateEvent({ action: 'key.create', tenant_id: tenant }, { receivedAt: new Date() })
  if (!result.ok) throw new AuditqError('AUDITQ_BAD_REQUEST', `--tenant: ${result.errors.map((e) => e.message).join('; ')}`)
}

type RecordKeyChange = (kind: 'key.create' | 'key.revoke', tenant: string, what: Record<string, unknown>) => Promise<void>

async function withKeyStore(command: Command, fn: (store: KeyStore, record: RecordKeyChange) => Promise<void>): Promise<void> {
  const config = commandConfig(command)
  // Opening the event store migrates it, which creates api_keys on a new database.
  const events = await openStore(storeLocation(config))
  try {
    await fn(events.keys, (kind, tenant, what) => recordCliAccess(events, config, kind, tenant, what))
  } finally {
    await events.close()
  }
}
