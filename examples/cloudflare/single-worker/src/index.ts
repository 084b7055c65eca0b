/**
 * Option 1 of the seed: one Worker is both the issuer (fetch) and the audit queue's consumer
 * (queue). Remove the [[queues.producers]] binding from wrangler.toml and the AuditService writes
 * to D1 directly instead; the queue handler then simply never runs.
 */
import { handleAuditBatch, type MessageBatch } from 'auditq/cloudflare'
import { handleIssuerRequest, type IssuerEnv } from '../../shared/issuer.js'

export default {
  fetch(request: Request, env: IssuerEnv, ctx: { waitUntil(p: Promise<unknown>): void }): Promise<Response> {
    return handleIssuerRequest(request, env, ctx)
  },

  async queue(batch: MessageBatch<unknown>, env: IssuerEnv): Promise<void> {
    // Failed messages are retried one by one (retry() with backoff); after max_retries the queue
    // moves them to audit-events-dlq. Rejects (invalid events) land in the audit_rejects table.
    await handleAuditBatch(batch, env.AUDIT_DB, { maxRetries: 3 })
  },
}
