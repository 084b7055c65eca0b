/**
 * `auditq/cloudflare`: auditq for Cloudflare Workers (D1, optional Queue). Free of Node-only
 * APIs; `bundle-guard.test.ts` bundles this entry for workerd and fails on any Node builtin.
 */
export { AuditService } from './audit-service.js'
export type { AuditInput, AuditServiceConfig, AuditServiceStats, BulkResult, RejectedEvent, TokenUsageEvent, WaitUntil } from './audit-service.js'
export { handleAuditBatch, retryDelaySeconds } from './consumer.js'
export type { AuditBatchOptions, AuditBatchResult } from './consumer.js'
export { ENVELOPE_VERSION, readEnvelope, toEnvelope } from './envelope.js'
export type { AuditEventMessage, EnvelopeReading } from './envelope.js'
export { D1_MIGRATIONS, migrateD1, migrationFileText } from './d1/schema.js'
export type { D1Migration, D1MigrationReport } from './d1/schema.js'
export { D1EventWriter, classifyD1Error } from './d1/writer.js'
export { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, getEvent, parseEventQuery, queryEvents } from './d1/query.js'
export type { EventPage, ParsedEventQuery } from './d1/query.js'
export { reportEvents } from './d1/report.js'
export type { D1Report, Ranked, ReportOptions } from './d1/report.js'
export type { CloudflareLog } from './console-log.js'
export type { D1Database, D1PreparedStatement, D1Result, Message, MessageBatch, MessageSendRequest, Queue } from './bindings.js'
export { AuditqError, ERROR_CATALOG, isAuditqError } from '../errors.js'
export type { ErrorCode } from '../errors.js'
export type { AuditEvent, AuditEventInput, Category, FieldError } from '../event/types.js'
export type { EventFilter } from '../query/event-filter.js'
