import { z } from 'zod'
import { commaList, postgresUrl, textBoolean } from './fields.js'

/** Config sections of the stored events: retention, search, erasure, read capacity and the partitioned layout. */

/** Sizes of the time ranges the partitioned PostgreSQL layout can use (store/postgres/partition-layout.ts). */
export const PARTITION_INTERVALS = ['day', 'week', 'month'] as const
export type PartitionInterval = (typeof PARTITION_INTERVALS)[number]

export const retentionSchema = z
  .strictObject({
    /** Delete events older than this many days; unset = keep forever (retention off). */
    days: z.coerce.number().int().min(1).optional(),
    /** Actions never deleted (comma-separated in AUDITQ_RETENTION_KEEP_ACTIONS). */
    keepActions: commaList(z.string().min(1)).default([]),
    /** How often `serve` / `worker` try a run; only one process at a time actually runs. */
    intervalMs: z.coerce.number().int().min(1_000).default(60 * 60_000),
    /**
     * Rows per delete transaction: short transactions, no long locks beside ingest. Unset: 5,000
     * on PostgreSQL, 500 on the embedded store (retentionChunkRows), whose deletes run on the
     * event loop and hold the file's write lock: a 5,000-row chunk stalls both ~0.4 s.
     */
    chunkRows: z.coerce.number().int().min(1).max(100_000).optional(),
    /**
     * With an archive stream configured, retention never deletes an event the archive has not
     * confirmed. Off only on purpose (the archive is a copy, not the record of what was kept).
     */
    archiveBeforeDelete: textBoolean().default(true),
  })
  .prefault({})

export const searchSchema = z
  .strictObject({
    /** `serve` fills missing search documents in the background from its start (off: only `auditq search backfill` does). */
    backfillAtStart: z.union([z.boolean(), z.stringbool()]).default(true),
    /** Events per backfill transaction: small enough that each holds its locks for milliseconds. */
    backfillBatchRows: z.coerce.number().int().min(1).max(10_000).default(500),
    /** Pause between the background pass's batches, so ingest on the same store keeps its share of it. */
    backfillPauseMs: z.coerce.number().int().min(0).max(60_000).default(50),
    /** While events lack a document and no pass runs (or the last one failed), how often to count them again or retry. */
    backfillRecheckMs: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),
  })
  .prefault({})

export const shreddingSchema = z
  .strictObject({
    /** The field naming the person the event is about; setting it turns shredding on. */
    subjectField: z.enum(['actor_id', 'resource_id', 'session_id', 'client_id']).optional(),
    /** Personal fields sealed besides the subject field: top-level text fields or `metadata.<key>` paths. */
    fields: z.array(z.string().min(1).max(200)).default([]),
    /** The master key (64 hex digits or base64 of 32 bytes); env AUDITQ_SHRED_MASTER_KEY. */
    masterKey: z.string().min(1).optional(),
    /** A file holding it instead; env AUDITQ_SHRED_MASTER_KEY_FILE. */
    masterKeyFile: z.string().min(1).optional(),
    /**
     * How long a process trusts a data key it has looked up. An erasure made by another process
     * (the CLI beside a running service) takes effect in this one within this long.
     */
    keyCacheTtlMs: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
  })
  .prefault({})

export const readsSchema = z
  .strictObject({
    /** Connections of the PostgreSQL read pool; reads wait for one of these, never for a writer's. */
    poolMax: z.coerce.number().int().min(1).max(100).default(8),
    /**
     * Server-side bound on each read statement (a page, one fetch of an export, one verify step),
     * set on every read connection. Reports set their own (`reports.timeoutMs`).
     */
    statementTimeoutMs: z.coerce.number().int().min(100).default(60_000),
    /** Exports streaming at once per process, all tenants together (each holds a read connection). */
    exportMaxConcurrent: z.coerce.number().int().min(1).max(64).default(2),
    /** Exports one tenant may stream at once per process. */
    exportMaxPerTenant: z.coerce.number().int().min(1).max(64).default(1),
    /**
     * An export whose client reads nothing for this long (its socket stays full) is aborted and
     * its cursor and connection released: a client that stops reading must not hold them.
     */
    exportIdleTimeoutMs: z.coerce.number().int().min(100).default(30_000),
    /** Chain verifications at once per process, all tenants together; each tenant runs one at a time. */
    verifyMaxConcurrent: z.coerce.number().int().min(1).max(16).default(2),
    /**
     * A PostgreSQL streaming replica that answers reads (query, export, reports, verify) while it
     * is at most `replicaMaxLagMs` behind; the primary answers them otherwise. Writes, the chain,
     * retention and API keys always use the primary.
     */
    replicaUrl: postgresUrl().optional(),
    /** A replica further behind than this is not read from (reads go to the primary until it catches up). */
    replicaMaxLagMs: z.coerce.number().int().min(0).default(10_000),
    /** How often the replica's replay position is compared with the primary's. */
    replicaProbeMs: z.coerce.number().int().min(100).default(1_000),
  })
  .prefault({})

export const partitionsSchema = z
  .strictObject({
    /**
     * Partition audit_logs by occurred_at, one partition per day, week or month (UTC). Unset: one
     * table. A table already holding events is converted with `auditq migrate --partition`.
     */
    interval: z.enum(PARTITION_INTERVALS).optional(),
    /** Partitions kept created beyond the one the accepted clock skew (24 h) reaches into. */
    ahead: z.coerce.number().int().min(1).max(52).default(2),
    /** How often each process checks partitions exist ahead (days of margin make hourly ample) and analyzes stale ones. */
    maintainEveryMs: z.coerce.number().int().min(1_000).default(3_600_000),
  })
  .prefault({})
