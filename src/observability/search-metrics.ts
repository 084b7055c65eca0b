import { Counter, Gauge, type Registry } from 'prom-client'

/** The search backfill's metrics: how many events word search cannot find yet, and how many it filled. */
export class SearchBackfillMetrics {
  readonly filledEvents: Counter

  constructor(registry: Registry, unindexed: () => number | null) {
    new Gauge({
      name: 'auditq_search_unindexed_events',
      help: 'Events stored without a search document (stored before word search existed): search does not find them until the backfill has filled them. NaN until first counted.',
      registers: [registry],
      collect() {
        const value = unindexed()
        this.set(value === null ? Number.NaN : value)
      },
    })
    this.filledEvents = new Counter({ name: 'auditq_search_backfilled_events_total', help: 'Events this process gave their missing search document.', registers: [registry] })
  }
}
