import type { AccountingRecord } from './accounting.js'
import type { Island } from './compute.js'

export interface CompletenessFilter {
  /** One producer; all when absent. */
  producer_id?: string
  /**
   * Only this tenant's events and accounting records. A producer writing several tenants numbers
   * across them, so only a check without this filter sees its sequence: with it, the stores read
   * the runs wholly in the tenant, which are the producers that write only that tenant.
   */
  tenant_id?: string
}

/** What the completeness check needs of a store (both stores implement it). */
export interface CompletenessSource {
  /**
   * Maximal runs of consecutive sequence numbers stored per producer, from the runs each insert
   * recorded: numbers that reached the store, including events retention deleted since.
   */
  producerIslands(filter: CompletenessFilter): Promise<Island[]>
  /** The producers' head and rejection records. */
  accountingRecords(filter: CompletenessFilter): Promise<AccountingRecord[]>
}
