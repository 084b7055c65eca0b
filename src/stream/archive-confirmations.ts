import { globMatches, type StreamRecord } from './definition.js'

/** Archive streams whose acknowledgements speak for every event of `tenantId` (no action or category filter). */
export function archiveStreamsCovering(streams: readonly StreamRecord[], tenantId: string): StreamRecord[] {
  return streams.filter(
    (s) =>
      s.sink.kind === 'archive' &&
      s.replay_of === null &&
      (s.owner_tenant === null || s.owner_tenant === tenantId) &&
      (s.filter.tenants.length === 0 || s.filter.tenants.some((glob) => globMatches(glob, tenantId))) &&
      s.filter.actions.length === 0 &&
      s.filter.categories.length === 0,
  )
}

/** The lowest of the covering streams' confirmed seqs; null with no archive stream at all. */
export function confirmedThroughOf(streams: readonly StreamRecord[], tenantId: string, seqOf: (stream: string) => number): number | null {
  const archives = streams.filter((s) => s.sink.kind === 'archive' && s.replay_of === null)
  if (archives.length === 0) return null
  const covering = archiveStreamsCovering(archives, tenantId)
  if (covering.length === 0) return 0
  return Math.min(...covering.map((s) => seqOf(s.name)))
}
