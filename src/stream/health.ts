import type { StreamStore } from './stream-store.js'

/** Streams that are not delivering (failing now, or parked), as the health rules read them. */
export function streamHealthReader(store: StreamStore, now: () => number = Date.now) {
  return async () =>
    (await store.list())
      .filter((s) => s.state === 'parked' || (s.state === 'active' && s.failing_since !== null))
      .map((s) => ({
        name: s.name,
        state: s.state,
        failing_seconds: s.failing_since ? Math.max(0, (now() - Date.parse(s.failing_since)) / 1000) : 0,
        last_error: s.last_error,
      }))
}
