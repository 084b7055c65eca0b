/**
 * Producer runs for PostgreSQL (migration 92): what the completeness check reads instead of a
 * per-event index. A statement-level trigger on `audit_logs` records, for every insert statement,
 * each producer's runs of consecutive sequence numbers it stored (producer-runs-merge.ts): one
 * row per batch and producer, where the two `(…, producer_id, producer_seq)` indexes took two B-tree entries per
 * numbered event on the insert direct mode waits for (docs/decisions.md, "Completeness from
 * producer runs"). A trigger rather than a clause in each insert statement, so every path that
 * stores events (chained, prepared, unchained, partitioned, imports, a future one) records its
 * runs, in the same transaction as the rows, and a rolled-back batch records nothing.
 *
 * The rows record what was stored, not what is still there: retention deleting an event does
 * not turn its number into a gap. They are derived, so reads merge overlapping and adjacent runs
 * (producer-runs-merge.ts) and the check compacts a producer's runs into its islands now and then
 * (COMPACT_SQL). Pure text.
 */
import { CROWDED_PRODUCERS_SQL, mergedRuns, runsOfEvents } from '../producer-runs-merge.js'

/** Records the runs among one statement's new rows. */
const RECORD_RUNS_FUNCTION = `CREATE FUNCTION auditq_record_producer_runs() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    ${runsOfEvents('auditq_new_events')};
    RETURN NULL;
  END $$`

/**
 * The trigger on `audit_logs` (also created on the partitioned parent: partitions.ts). Statement
 * level, so it runs once per insert, over a transition table holding only the rows inserted.
 */
export const PRODUCER_RUNS_TRIGGER = `CREATE TRIGGER audit_logs_producer_runs AFTER INSERT ON audit_logs
  REFERENCING NEW TABLE AS auditq_new_events FOR EACH STATEMENT EXECUTE FUNCTION auditq_record_producer_runs()`

/**
 * Migration 92: the table, the trigger, the runs of every event stored so far (one pass over the
 * producer index, which is then dropped with its sibling).
 */
export const PRODUCER_RUNS_MIGRATION = [
  `CREATE TABLE audit_producer_runs (
    tenant_id         text,
    producer_id       text        NOT NULL,
    first_seq         bigint      NOT NULL,
    last_seq          bigint      NOT NULL CHECK (last_seq >= first_seq),
    first_received_at timestamptz NOT NULL
  )`,
  'CREATE INDEX audit_producer_runs_producer_idx ON audit_producer_runs (producer_id, tenant_id)',
  RECORD_RUNS_FUNCTION,
  PRODUCER_RUNS_TRIGGER,
  runsOfEvents('audit_logs'),
  'DROP INDEX audit_logs_producer_idx',
  'DROP INDEX audit_logs_producer_seq_idx',
]

/**
 * Replaces the runs of every producer that has runs to merge by its islands, in one
 * statement; a producer whose runs are already its islands (real gaps between them) is left
 * alone. Runs inserted meanwhile are not in the statement's snapshot and stay as they are; a
 * second compaction running at once deletes only rows the first has not (those the first deleted
 * are skipped once it commits), so each run is merged exactly once and the union stays exact.
 */
export const COMPACT_SQL = `WITH crowded AS (${CROWDED_PRODUCERS_SQL}), gone AS (
    DELETE FROM audit_producer_runs r USING crowded c WHERE r.producer_id = c.producer_id
    RETURNING r.tenant_id, r.producer_id, r.first_seq, r.last_seq, r.first_received_at
  )
  INSERT INTO audit_producer_runs (tenant_id, producer_id, first_seq, last_seq, first_received_at)
  ${mergedRuns('gone')}`
