/**
 * Producer runs, in SQL both stores' dialects accept (window frames, CASE, coalesce). Each store
 * records, as it inserts, the runs of consecutive sequence numbers each producer stored (a
 * statement trigger in PostgreSQL, the insert transaction in SQLite) into `audit_producer_runs`
 * (tenant_id, producer_id, first_seq, last_seq, first_received_at); the completeness check reads
 * them merged into islands, and compacts them with the same merge. Pure text.
 *
 * Runs are per producer, not per tenant and producer: a producer numbers across every tenant it
 * writes, and an application serving many tenants interleaves them, so per tenant most runs
 * would be one event long (one row per event, the cost this layout exists to avoid). A run's
 * `tenant_id` is its tenant when all its events have the same one, NULL when they do not.
 */

/** The tenant of a group of runs or events: the one they all have, else NULL. */
const ONE_TENANT = 'CASE WHEN count(tenant_id) = count(*) AND min(tenant_id) = max(tenant_id) THEN min(tenant_id) END'

/**
 * The runs of the events in `events` (a relation with tenant_id, producer_id, producer_seq and
 * received_at) as rows to insert, by gaps-and-islands: within a producer, `seq - dense_rank()` is
 * constant along consecutive numbers (dense_rank, so a number stored twice is not a false run).
 */
export function runsOfEvents(events: string): string {
  return `INSERT INTO audit_producer_runs (tenant_id, producer_id, first_seq, last_seq, first_received_at)
    SELECT ${ONE_TENANT}, producer_id, min(producer_seq), max(producer_seq), min(received_at)
      FROM (SELECT tenant_id, producer_id, producer_seq, received_at,
                   producer_seq - dense_rank() OVER (PARTITION BY producer_id ORDER BY producer_seq) AS grp
              FROM ${events} WHERE producer_id IS NOT NULL) s
     GROUP BY producer_id, grp`
}

/**
 * Each run of `source` (a relation with the run columns) with `starts`: 1 when it begins more than
 * one past the end of every earlier run of its producer in first_seq order, so it starts an
 * island; 0 when it overlaps or extends one.
 */
function runStarts(source: string): string {
  return `SELECT tenant_id, producer_id, first_seq, last_seq, first_received_at,
      CASE WHEN first_seq > coalesce(max(last_seq) OVER (PARTITION BY producer_id ORDER BY first_seq, last_seq
             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), first_seq - 2) + 1 THEN 1 ELSE 0 END AS starts
    FROM ${source}`
}

/** The runs of `source` merged into maximal runs (islands) per producer, with the run columns. */
export function mergedRuns(source: string): string {
  return `SELECT ${ONE_TENANT} AS tenant_id, producer_id, min(first_seq) AS first_seq, max(last_seq) AS last_seq,
      min(first_received_at) AS first_received_at
    FROM (SELECT *, sum(starts) OVER (PARTITION BY producer_id ORDER BY first_seq, last_seq) AS island
            FROM (${runStarts(source)}) a) b
   GROUP BY producer_id, island`
}

/**
 * The check's read: islands per producer from the runs matching `where` (a condition on
 * tenant_id and producer_id; naming a tenant keeps only runs wholly in it).
 */
export function islandsSql(where: string): string {
  return `SELECT producer_id, first_seq AS first, last_seq AS last, first_received_at
    FROM (${mergedRuns(`(SELECT * FROM audit_producer_runs WHERE ${where}) r`)}) m
   ORDER BY producer_id, first_seq`
}

/** The producers that have runs to merge; producers whose runs are already their islands are not listed. */
export const CROWDED_PRODUCERS_SQL = `SELECT producer_id FROM (${runStarts('audit_producer_runs')}) s
  GROUP BY producer_id HAVING min(starts) = 0`
