/**
 * The chained insert fed by canonical forms (src/integrity/prepared-event.ts): the batch travels
 * as one jsonb array of auditq.v2 arrays, the very bytes the content digests were taken over, and
 * PostgreSQL splits each into columns by position, in C. The worker only joins strings; the search
 * documents ride beside as a tsvector[] literal (their characters need no escaping) and the ids as
 * a uuid[] literal for the chain function. Chosen over unnest of per-column array literals,
 * json_to_recordset of objects and COPY into a staging table by bench/queue-insert-forms.ts
 * (docs/decisions.md, "The queue moves bytes"). Pure text, no connection.
 */
import { EVENT_FIELDS } from '../../event/types.js'
import { CANONICAL_V2_POSITIONS } from '../../integrity/canonical-layout.js'
import { CURRENT_CANONICAL_VERSION } from '../../integrity/canonical-version.js'
import { UNIQUE_ID_WINDOW } from './chain-links-sql.js'
import { COLUMN_TYPES, INSERT_COLUMNS } from './sql.js'

/**
 * One column from the canonical array `c`. jsonb columns take the element itself, JSON null as SQL
 * NULL (as the unnest insert stores an absent value); the others its text, cast to the column type.
 */
function column(field: (typeof EVENT_FIELDS)[number]): string {
  const position = CANONICAL_V2_POSITIONS[field]
  const type = COLUMN_TYPES[field]
  if (type === 'jsonb') return `nullif(r.c -> ${position}, 'null'::jsonb)`
  return type === 'text' ? `r.c ->> ${position}` : `(r.c ->> ${position})::${type}`
}

/**
 * The SELECT feeding the insert: $canonical is the jsonb array of canonical arrays, $search the
 * tsvector[] of search documents in the same order (ROWS FROM zips them). canonical_version is
 * the form's own, 2, written explicitly as the unnest insert does.
 */
export function canonicalSource(canonicalParam: number, searchParam: number): string {
  return `SELECT ${EVENT_FIELDS.map(column).join(', ')}, r.s, ${CURRENT_CANONICAL_VERSION}::smallint
    FROM ROWS FROM (jsonb_array_elements($${canonicalParam}::jsonb), unnest($${searchParam}::tsvector[])) AS r(c, s)`
}

/**
 * Per-row tenants and occurred_at, read from the same parameter: the partitioned guard takes both,
 * and the link rows carry the events' occurred_at (migration 81).
 */
const ROW_TENANTS = `ARRAY(SELECT x.c ->> ${CANONICAL_V2_POSITIONS.tenant_id} FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(c, o) ORDER BY x.o)`
const ROW_OCCURRED = `ARRAY(SELECT (x.c ->> ${CANONICAL_V2_POSITIONS.occurred_at})::timestamptz FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(c, o) ORDER BY x.o)`

/**
 * INSERT_LINKED_SQL (chain-links-sql.ts) with the canonical source. Parameters: $1 canonical
 * forms (jsonb), $2 search documents, $3 ids (uuid[], in batch order), then as there: tenants,
 * counts, offsets, packed digests, genesis, expected head seqs and hashes, packed links (or NULL).
 */
export const INSERT_CANONICAL_LINKED_SQL = `WITH inserted AS (
    INSERT INTO audit_logs (${INSERT_COLUMNS})
    ${canonicalSource(1, 2)}
    RETURNING 1
  )
  SELECT c.o_end_seqs AS end_seqs, c.o_end_hashes AS end_hashes, c.o_taken AS taken
  FROM (SELECT count(*) AS n FROM inserted) AS i,
    auditq_chain_v4(i.n, $4::text[], $5::int[], $6::int[], $3::uuid[], $7::bytea, $8::text, $9::bigint[], $10::text[], $11::bytea,
      ${ROW_OCCURRED}) AS c`

export const INSERT_CANONICAL_LINKED_NAME = 'auditq_insert_canonical_linked'

/** The partitioned layout's variant: the id guard between the insert and the chain, as INSERT_LINKED_PARTITIONED_SQL. */
export const INSERT_CANONICAL_LINKED_PARTITIONED_SQL = INSERT_CANONICAL_LINKED_SQL.replace(
  'auditq_chain_v4(i.n,',
  `auditq_chain_v4(auditq_unique_ids(i.n, $4::text[], $8::text, ${ROW_TENANTS}, $3::uuid[], ${ROW_OCCURRED}, '${UNIQUE_ID_WINDOW}'::interval),`,
)
export const INSERT_CANONICAL_LINKED_PARTITIONED_NAME = 'auditq_insert_canonical_linked_partitioned'

/** The unchained insert (bench baseline only), with the same source. $1 canonical forms, $2 search documents. */
export function insertCanonicalUnchainedSql(conflict: 'ON CONFLICT (tenant_id, id) DO NOTHING' | 'ON CONFLICT DO NOTHING'): string {
  return `INSERT INTO audit_logs (${INSERT_COLUMNS})
  ${canonicalSource(1, 2)}
  ${conflict}`
}
