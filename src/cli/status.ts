import type { Command } from 'commander'
import { AuditqError } from '../errors.js'
import { commandConfig } from './context.js'
import { renderStatus, type AuditMetricsBody } from './status-view.js'
import { stdoutReaderGone } from './stdout.js'

/**
 * `auditq status`: asks a running service (GET /api/v1/monitoring/audit-metrics) rather than
 * reading Redis and the store itself — the service holds the sampler that makes rates and
 * per-minute figures, and it is what the dashboard shows, so both agree. Exit code 0 when
 * healthy, 1 otherwise (scripts can gate on it).
 */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("print a running service's health, rates and queue figures")
    .option('--url <url>', 'the service (env AUDITQ_URL; default http://127.0.0.1:<port>)')
    .option('--api-key <key>', 'a key with the admin scope (env AUDITQ_API_KEY)')
    .option('--watch [seconds]', 'refresh every N seconds (default 2) until interrupted')
    .option('--json', 'JSON instead of the table (the default when stdout is not a terminal)')
    .action(async (options: { url?: string; apiKey?: string; watch?: string | boolean; json?: boolean }, command: Command) => {
      const config = commandConfig(command)
      const base = (options.url ?? process.env.AUDITQ_URL ?? `http://127.0.0.1:${config.port}`).replace(/\/+$/, '')
      const apiKey = options.apiKey ?? process.env.AUDITQ_API_KEY
      const json = options.json === true || process.stdout.isTTY !== true
      const everySeconds = options.watch === undefined ? undefined : options.watch === true ? 2 : Number(options.watch)
      if (everySeconds !== undefined && (!Number.isFinite(everySeconds) || everySeconds < 0.2)) {
        throw new AuditqError('AUDITQ_BAD_REQUEST', '--watch takes a number of seconds, at least 0.2')
      }
      const once = async () => {
        const body = await fetchStatus(base, apiKey)
        if (json) process.stdout.write(JSON.stringify(body) + '\n')
        else process.stdout.write((everySeconds !== undefined ? '\x1b[H\x1b[2J' : '') + renderStatus(body, base, true))
        return body.health.status
      }
      if (everySeconds === undefined) {
        process.exitCode = (await once()) === 'healthy' ? 0 : 1
        return
      }
      // Watching: an unreachable service is shown and retried, not fatal. A reader that went away
      // (`status --watch | head -1`) ends it, with exit 0.
      while (!stdoutReaderGone()) {
        try {
          await once()
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error)
          process.stdout.write(json ? JSON.stringify({ error: message, timestamp: new Date().toISOString() }) + '\n' : `\x1b[H\x1b[2Jauditq  ${base}\n${message}\n`)
        }
        await new Promise((resolve) => setTimeout(resolve, everySeconds * 1000))
      }
    })
}

async function fetchStatus(base: string, apiKey: string | undefined): Promise<AuditMetricsBody> {
  let response: Response
  try {
    response = await fetch(`${base}/api/v1/monitoring/audit-metrics`, {
      headers: { accept: 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      signal: AbortSignal.timeout(5_000),
    })
  } catch (error) {
    // Most often nothing is running yet: say how to start it, or how to point at the one that is.
    throw new AuditqError(
      'AUDITQ_SERVICE_UNREACHABLE',
      `no answer from ${base}: ${(error as Error).message}; is the service running? Start it with \`auditq serve\`, or point at it with --url (env AUDITQ_URL)`,
    )
  }
  const body = (await response.json().catch(() => null)) as (AuditMetricsBody & { message?: string }) | null
  if (!response.ok || body === null || typeof body.health !== 'object') {
    throw new AuditqError(response.status === 401 ? 'AUDITQ_UNAUTHORIZED' : response.status === 403 ? 'AUDITQ_FORBIDDEN' : 'AUDITQ_INTERNAL', `${base} answered ${response.status}${body?.message ? `: ${body.message}` : ''}`)
  }
  return body
}
