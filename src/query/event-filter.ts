import type { Category } from '../event/types.js'
import type { SearchQuery } from './search/syntax.js'

/**
 * Filters shared by query, export and reports. All conditions are ANDed.
 * `from` is inclusive and `to` exclusive, both on `occurred_at`.
 */
export interface EventFilter {
  tenant_id?: string
  actor_id?: string
  action?: string
  category?: Category
  resource_type?: string
  /**
   * Any of these resource types. Set only by code, never parsed from a query string: the viewer
   * ANDs a token's resource-type restriction in through it (src/viewer/restrict.ts).
   */
  resource_types?: readonly string[]
  resource_id?: string
  success?: boolean
  from?: string
  to?: string
  /**
   * Crypto-shredding's filter on the subject field (src/shred/): the field is stored null on sealed
   * events, so they match on their keyed blind index; events stored before shredding was turned on
   * match on the plain value. Set by the reading side from `actor_id=…` (or whichever field names
   * the subject), never by callers.
   */
  subject?: SubjectMatch
  /** Word search (src/query/search/): every included term matches, no excluded one does. */
  search?: SearchQuery
}

export interface SubjectMatch {
  field: (typeof SUBJECT_MATCH_FIELDS)[number]
  value: string
  index: string
}

/** The columns a subject match may name (spliced into SQL, so checked against this list). */
export const SUBJECT_MATCH_FIELDS = ['actor_id', 'resource_id', 'session_id', 'client_id'] as const
