/**
 * Compile-time only: Cloudflare's real binding types (from @cloudflare/workers-types) must be
 * assignable to the structural ones auditq/cloudflare declares, or `new AuditService({ database:
 * env.DB })` would not type-check in a user's Worker. Checked by `npm run typecheck`.
 */
import type * as auditq from 'auditq/cloudflare'

type Assignable<To, From extends To> = From

export type Checks = [
  Assignable<auditq.D1Database, D1Database>,
  Assignable<auditq.Queue<auditq.AuditEventMessage>, Queue<auditq.AuditEventMessage>>,
  Assignable<auditq.MessageBatch<unknown>, MessageBatch<unknown>>,
  Assignable<auditq.WaitUntil, ExecutionContext>,
]
