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
  resource_id?: string
  success?: boolean
  from?: string
  to?: string
  /** Word search (src/query/search/): every included term matches, no excluded one does. */
  search?: SearchQuery
}
