/** Option 2 of the seed, consumer half: drains the audit queue into D1; scales apart from the issuer. */
import { handleAuditBatch, type D1Database, type MessageBatch } from 'auditq/cloudflare'

interface Env {
  AUDIT_DB: D1Database
}

export default {
  async queue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
    await handleAuditBatch(batch, env.AUDIT_DB, { maxRetries: 3 })
  },
}
