/**
 * Maintenance of the partitioned layout (partition-layout.ts): converting the unpartitioned table,
 * creating ranges ahead, and what health reports about them. auditq creates its own partitions
 * rather than depending on pg_partman (docs/decisions.md, "Time-partitioned PostgreSQL").
 */
import type pg from 'pg'
import { AuditqError } from '../../errors.js'
import type { Logger } from '../../util/logger.js'
import { PRODUCER_RUNS_TRIGGER } from './producer-runs-sql.js'
import {
  DEFAULT_PARTITION,
  LEGACY_PARTITION,
  parseBound,
  partitionName,
  rangeEnd,
  rangesToCreate,
  type PartitionInfo,
  type PartitioningSettings,
} from './partition-layout.js'

/** First key of the maintenance advisory lock ('audp'); the second is hashtext(schema). */
const PARTITION_LOCK_KEY = 0x61756470

const LIST_SQL = `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
  WHERE i.inhparent = 'audit_logs'::regclass ORDER BY c.relname`

/** Partitions (quoted, schema-qualified) whose rows changed by more than 1,000 + 10 % since their last ANALYZE. */
const STALE_PARTITIONS_SQL = `SELECT format('%I.%I', s.schemaname, s.relname) AS name
  FROM pg_inherits i JOIN pg_stat_user_tables s ON s.relid = i.inhrelid
  WHERE i.inhparent = 'audit_logs'::regclass AND s.n_mod_since_analyze > 1000 + 0.1 * s.n_live_tup
  ORDER BY s.relname`

export interface PartitionStatus {
  partitioned: boolean
  interval?: string
  partitions: number
  /** End of the newest range (ISO), i.e. how far ahead partitions exist. */
  coveredUntil: string | null
  /** Rows in the default partition: events no range held. Non-zero is a health finding. */
  defaultRows: number
}

export class PostgresPartitions {
  private timer: NodeJS.Timeout | undefined
  private lastStatus: PartitionStatus = { partitioned: false, partitions: 0, coveredUntil: null, defaultRows: 0 }

  constructor(
    private readonly pool: pg.Pool,
    private readonly settings: PartitioningSettings & { schema: string; maintainEveryMs: number; logger?: Logger | undefined },
  ) {}

  async isPartitioned(client: Pick<pg.Pool, 'query'> = this.pool): Promise<boolean> {
    const { rows } = await client.query<{ kind: string }>(
      "SELECT c.relkind AS kind FROM pg_class c WHERE c.relname = 'audit_logs' AND c.relnamespace = current_schema()::regnamespace",
    )
    return rows[0]?.kind === 'p'
  }

  async list(client: Pick<pg.Pool, 'query'> = this.pool): Promise<PartitionInfo[]> {
    const { rows } = await client.query<{ name: string; bound: string }>(LIST_SQL)
    return rows.map((row) => parseBound(row.name, row.bound))
  }

  /**
   * At start: a fresh (empty) table is converted on the spot; a table holding events is not, since
   * that locks it for a while, and start-up fails with the command that does it.
   */
  async prepare(): Promise<void> {
    if (!(await this.isPartitioned())) {
      const { rows } = await this.pool.query<{ any: boolean }>('SELECT EXISTS (SELECT 1 FROM audit_logs) AS any')
      if (rows[0]?.any) {
        throw new AuditqError(
          'AUDITQ_CONFIG',
          'postgres.partitionInterval: audit_logs already holds events in the unpartitioned layout; convert it with `auditq migrate --partition` (docs/scaling.md) or unset the setting',
        )
      }
      await this.convert()
    }
    await this.maintain()
  }

  /** Runs `maintain` now and every `maintainEveryMs`; a failed round is logged and retried next time. */
  start(): void {
    if (this.timer) return
    this.timer = setInterval(() => {
      this.maintain().catch((error: Error) => this.settings.logger?.warn({ err_message: error.message }, 'postgres: partition maintenance failed; retrying at the next round'))
    }, this.settings.maintainEveryMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  status(): PartitionStatus {
    return this.lastStatus
  }

  /**
   * Creates the missing ranges ahead, under an advisory lock so processes starting together do
   * not race, and counts the default partition's rows. Each new range is created as a table and
   * then attached: ATTACH takes only SHARE UPDATE EXCLUSIVE on audit_logs, so inserts and reads
   * go on, where CREATE TABLE … PARTITION OF would block them.
   */
  async maintain(now = Date.now()): Promise<PartitionStatus> {
    const client = await this.pool.connect()
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      await client.query("SELECT set_config('lock_timeout', '5s', true)")
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [PARTITION_LOCK_KEY, this.settings.schema])
      const partitions = await this.list(client)
      const newest = partitions.reduce<number | null>((max, p) => (p.to !== null && (max === null || p.to > max) ? p.to : max), null)
      for (const start of rangesToCreate(now, this.settings, newest)) {
        await createRange(client, start, rangeEnd(start, this.settings.interval))
      }
      if (!partitions.some((p) => p.isDefault)) await createDefault(client)
      await client.query('COMMIT')
      // Statistics help reads; their failing must not fail start-up or the ranges just created.
      await this.analyzeStale().catch((error: Error) => this.settings.logger?.warn({ err_message: error.message }, 'postgres: analyzing stale partitions failed; retrying at the next round'))
      this.lastStatus = await this.measure()
      if (this.lastStatus.defaultRows > 0) {
        this.settings.logger?.warn(
          { default_rows: this.lastStatus.defaultRows },
          'postgres: events are stored in the default partition (older than every range, or beyond those created); retention deletes them row by row',
        )
      }
      return this.lastStatus
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError))
      throw error
    } finally {
      client.release(broken)
    }
  }

  /**
   * ANALYZE of each partition whose statistics predate a tenth of its rows (what autovacuum's
   * default trigger is, with a floor of 1,000 changed rows); returns the partitions analyzed.
   * Autovacuum analyzes partitions too, but after a burst it can be minutes behind, and a partition
   * analyzed while it was nearly empty misleads the planner: lookups by (tenant_id, id,
   * occurred_at) along the chain went through a tenant's index and filtered every row of the
   * tenant in that partition, 9.9 s per verify window of 500 instead of 7 ms (docs/scaling.md).
   * ANALYZE samples a fixed number of rows, so the cost does not grow with the partition.
   */
  async analyzeStale(): Promise<string[]> {
    const { rows } = await this.pool.query<{ name: string }>(STALE_PARTITIONS_SQL)
    for (const { name } of rows) await this.pool.query(`ANALYZE ${name}`)
    if (rows.length > 0) this.settings.logger?.info({ partitions: rows.map((row) => row.name) }, 'postgres: analyzed partitions whose statistics were stale')
    return rows.map((row) => row.name)
  }

  private async measure(): Promise<PartitionStatus> {
    const partitions = await this.list()
    const newest = partitions.reduce<number | null>((max, p) => (p.to !== null && (max === null || p.to > max) ? p.to : max), null)
    // The default partition is empty in normal operation, so counting it is cheap; a large count is the finding.
    const { rows } = await this.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${DEFAULT_PARTITION}`)
    return {
      partitioned: true,
      interval: this.settings.interval,
      partitions: partitions.length,
      coveredUntil: newest === null ? null : new Date(newest).toISOString(),
      defaultRows: Number(rows[0]?.n ?? 0),
    }
  }

  /**
   * Converts the unpartitioned table in one transaction holding ACCESS EXCLUSIVE on it: inserts
   * and reads wait until it commits. The table is not copied: it becomes the partition
   * `audit_logs_legacy` for every occurred_at up to the end of the current range, keeping its
   * indexes (attached, not rebuilt) and its primary key. What costs time is ATTACH's scan proving
   * every row lies in the range, about one sequential read of the table (docs/scaling.md has the
   * measured figure). Retention deletes from the legacy partition row by row until its newest
   * event expires, then drops it whole.
   */
  async convert(now = Date.now()): Promise<{ legacyRows: number; legacyUntil: string | null }> {
    const client = await this.pool.connect()
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [PARTITION_LOCK_KEY, this.settings.schema])
      await client.query('LOCK TABLE audit_logs IN ACCESS EXCLUSIVE MODE')
      if (await this.isPartitioned(client)) {
        await client.query('COMMIT')
        return { legacyRows: 0, legacyUntil: null }
      }
      const { rows } = await client.query<{ n: string; newest: Date | null }>('SELECT count(*) AS n, max(occurred_at) AS newest FROM audit_logs')
      const legacyRows = Number(rows[0]!.n)
      const newest = rows[0]!.newest?.getTime() ?? 0
      const legacyUntil = rangeEnd(Math.max(newest, now), this.settings.interval)
      await renameToLegacy(client)
      await createParent(client)
      if (legacyRows > 0) {
        await client.query(`ALTER TABLE audit_logs ATTACH PARTITION ${LEGACY_PARTITION} FOR VALUES FROM (MINVALUE) TO ('${new Date(legacyUntil).toISOString()}')`)
      } else {
        await client.query(`DROP TABLE ${LEGACY_PARTITION}`)
        // An empty table gets its ranges from maintain(), which runs next under the same lock key.
      }
      await createDefault(client)
      await client.query('COMMIT')
      return { legacyRows, legacyUntil: legacyRows > 0 ? new Date(legacyUntil).toISOString() : null }
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError))
      throw error
    } finally {
      client.release(broken)
    }
  }
}

/** The old table's indexes and key move aside under legacy names, so the parent's can take theirs. */
async function renameToLegacy(client: pg.PoolClient): Promise<void> {
  await client.query(`ALTER TABLE audit_logs RENAME TO ${LEGACY_PARTITION}`)
  await client.query(`ALTER TABLE ${LEGACY_PARTITION} RENAME CONSTRAINT audit_logs_pkey TO ${LEGACY_PARTITION}_pkey`)
  const { rows } = await client.query<{ name: string }>(
    `SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() AND tablename = '${LEGACY_PARTITION}' AND indexname LIKE 'audit\\_logs\\_%' AND indexname <> '${LEGACY_PARTITION}_pkey'`,
  )
  for (const { name } of rows) await client.query(`ALTER INDEX ${name} RENAME TO ${LEGACY_PARTITION}${name.slice('audit_logs'.length)}`)
}

/**
 * The partitioned parent: the legacy table's columns, defaults, CHECKs and extended statistics,
 * and each of its secondary indexes recreated under the original name (ATTACH then adopts the
 * legacy table's equal ones). No primary key on the parent: PostgreSQL requires one to include
 * occurred_at, so each partition has its own (tenant_id, id) key instead (docs/scaling.md, idempotency).
 */
async function createParent(client: pg.PoolClient): Promise<void> {
  await client.query(
    `CREATE TABLE audit_logs (LIKE ${LEGACY_PARTITION} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STATISTICS) PARTITION BY RANGE (occurred_at)`,
  )
  const { rows } = await client.query<{ def: string; name: string }>(
    `SELECT indexdef AS def, indexname AS name FROM pg_indexes WHERE schemaname = current_schema() AND tablename = '${LEGACY_PARTITION}' AND indexname <> '${LEGACY_PARTITION}_pkey'`,
  )
  for (const { def, name } of rows) {
    const original = `audit_logs${name.slice(LEGACY_PARTITION.length)}`
    if (original === 'audit_logs_chain_idx') {
      // Layout 1's unique (tenant_id, seq): only rows chained before migration 7 have a seq, and
      // they are all in the legacy partition, which keeps its unique index. The parent's is
      // partial, so new partitions (seq always NULL) carry an empty index; lookups by seq still
      // probe one index per partition instead of scanning them.
      await client.query('CREATE INDEX audit_logs_chain_idx ON audit_logs (tenant_id, seq) WHERE seq IS NOT NULL')
      continue
    }
    await client.query(def.replace(/^CREATE INDEX \S+ ON \S+/, `CREATE INDEX ${original} ON audit_logs`))
  }
  await client.query(`CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION auditq_append_only()`)
  // Statement triggers fire on the table an INSERT names, so the parent records the runs of rows
  // routed to any partition; the legacy table's own trigger no longer fires for new rows.
  await client.query(PRODUCER_RUNS_TRIGGER)
}

/**
 * A new partition: created standalone with its key and the append-only trigger (statement
 * triggers are not inherited, and a partition can be written directly), then attached, which
 * creates or adopts the parent's indexes on it.
 */
async function createRange(client: pg.PoolClient, from: number, to: number): Promise<void> {
  const name = partitionName(from)
  await createLeaf(client, name)
  await client.query(`ALTER TABLE audit_logs ATTACH PARTITION ${name} FOR VALUES FROM ('${new Date(from).toISOString()}') TO ('${new Date(to).toISOString()}')`)
}

async function createDefault(client: pg.PoolClient): Promise<void> {
  await createLeaf(client, DEFAULT_PARTITION)
  await client.query(`ALTER TABLE audit_logs ATTACH PARTITION ${DEFAULT_PARTITION} DEFAULT`)
}

async function createLeaf(client: pg.PoolClient, name: string): Promise<void> {
  await client.query(`CREATE TABLE ${name} (LIKE audit_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`)
  await client.query(`ALTER TABLE ${name} ADD CONSTRAINT ${name}_pkey PRIMARY KEY (tenant_id, id)`)
  await client.query(`CREATE TRIGGER ${name}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ${name}
    FOR EACH STATEMENT EXECUTE FUNCTION auditq_append_only()`)
}
