import type { AuditEvent } from '../../src/event/types.js'
import type { Store } from '../../src/store/store.js'

/**
 * The store as a buggy pipeline would feed it, for completeness tests: the events `lose` picks
 * never reach it, yet each batch is acknowledged as if they had.
 */
export function lossyStore(store: Store, lose: (event: AuditEvent) => boolean): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'insertBatch') {
        return async (events: readonly AuditEvent[]) => {
          const kept = events.filter((event) => !lose(event))
          const result = await target.insertBatch(kept)
          return { ...result, inserted: result.inserted + events.length - kept.length }
        }
      }
      const value = Reflect.get(target, property, receiver) as unknown
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}
