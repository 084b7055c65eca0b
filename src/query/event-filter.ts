import type { Category } from '../event/types.js'

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
}
