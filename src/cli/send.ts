import type { Command } from 'commander'
import { AuditqError } from '../errors.js'
import { shreddingFromConfig } from '../shred/from-config.js'
import { createAuditLogger } from '../sdk/audit-logger.js'
import { commandConfig, commandLogger, storeLocation } from './context.js'

interface SendFlags {
  action?: string
  id?: string
  category?: string
  actorId?: string
  actorType?: string
  resourceType?: string
  resourceId?: string
  failed?: boolean
  errorMessage?: string
  description?: string
  ip?: string
  userAgent?: string
  sessionId?: string
  requestId?: string
  clientId?: string
  tenantId?: string
  occurredAt?: string
  metadata?: string
}

export function registerSend(program: Command): void {
  program
    .command('send')
    .description('log events: one from flags, or JSON / JSON array / NDJSON on stdin; prints stored ids')
    .option('--action <action>', 'what happened (required unless reading stdin)')
    .option('--id <uuid>', 'event id (generated when absent; resending the same id stores it once)')
    .option('--category <category>', 'info | warning | critical')
    .option('--actor-id <id>')
    .option('--actor-type <type>')
    .option('--resource-type <type>')
    .option('--resource-id <id>')
    .option('--failed', 'the action did not succeed')
    .option('--error-message <text>')
    .option('--description <text>')
    .option('--ip <address>', 'ip_address')
    .option('--user-agent <ua>')
    .option('--session-id <id>')
    .option('--request-id <id>')
    .option('--client-id <id>')
    .option('--tenant-id <tenant>')
    .option('--occurred-at <time>', 'ISO-8601 with zone, or epoch ms')
    .option('--metadata <json>', 'a JSON object')
    .action(async (flags: SendFlags, command: Command) => {
      const events = flags.action ? [eventFromFlags(flags)] : await eventsFromStdin()
      const config = commandConfig(command)
      const shredding = shreddingFromConfig(config)
      const audit = await createAuditLogger({
        ...(shredding ? { shredding } : {}),
        ...storeLocation(config),
        defaultTenant: config.defaultTenant,
        redaction: { keys: config.security.redactKeys, ipTruncation: config.security.ipTruncation },
        logger: commandLogger(config),
      })
      try {
        const result = await audit.logBulk(events)
        for (const id of result.ids) process.stdout.write(id + '\n')
        for (const entry of result.rejected) {
          for (const error of entry.errors) {
            process.stderr.write(`event ${entry.index}: ${error.field} (${error.rule}): ${error.message}\n`)
          }
        }
        // 2 = bad input, as for every other input error; the valid events above were stored.
        if (result.rejected.length > 0) process.exitCode = 2
      } finally {
        await audit.close()
      }
    })
}

function eventFromFlags(flags: SendFlags): Record<string, unknown> {
  const event: Record<string, unknown> = {
    action: flags.action,
    id: flags.id,
    category: flags.category,
    actor_id: flags.actorId,
    actor_type: flags.actorType,
    resource_type: flags.resourceType,
    resource_id: flags.resourceId,
    success: flags.failed ? false : undefined,
    error_message: flags.errorMessage,
    description: flags.description,
    ip_address: flags.ip,
    user_agent: flags.userAgent,
    session_id: flags.sessionId,
    request_id: flags.requestId,
    client_id: flags.clientId,
    tenant_id: flags.tenantId,
    occurred_at: flags.occurredAt && /^\d+$/.test(flags.occurredAt) ? Number(flags.occurredAt) : flags.occurredAt,
  }
  if (flags.metadata !== undefined) {
    try {
      event.metadata = JSON.parse(flags.metadata)
    } catch (error) {
      throw new AuditqError('AUDITQ_BAD_REQUEST', `--metadata is not valid JSON: ${(error as Error).message}`)
    }
  }
  return Object.fromEntries(Object.entries(event).filter(([, value]) => value !== undefined))
}

async function eventsFromStdin(): Promise<unknown[]> {
  if (process.stdin.isTTY) {
    throw new AuditqError('AUDITQ_BAD_REQUEST', 'give --action (and other flags), or pipe JSON / NDJSON on stdin')
  }
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8').trim()
  if (text.length === 0) throw new AuditqError('AUDITQ_BAD_REQUEST', 'stdin is empty')
  try {
    const parsed: unknown = JSON.parse(text)
    return Array.isArray(parsed) ? parsed : [parsed]
  } catch {
    // Not one JSON document: read it as NDJSON, naming the first bad line.
    return text
      .split('\n')
      .filter((line) => line.trim().length > 0)
      .map((line, index) => {
        try {
          return JSON.parse(line) as unknown
        } catch (error) {
          throw new AuditqError('AUDITQ_BAD_REQUEST', `stdin line ${index + 1} is not valid JSON: ${(error as Error).message}`)
        }
      })
  }
}
