import type { AuditEvent } from '../event/types.js'
import type { EventFilter } from '../query/event-filter.js'
import type { ViewerGrant } from './grant.js'

/**
 * ANDs a token's bounds into whatever filter the browser sent. The tenant always comes from the
 * token; a restriction the browser's filter contradicts (another actor, a resource type outside
 * the list) makes the result empty (`null`) rather than widening anything: the browser can only
 * narrow what the token allows.
 */
export function restrictFilter(filter: EventFilter, grant: ViewerGrant): EventFilter | null {
  const bounded: EventFilter = { ...filter, tenant_id: grant.tenant_id }
  const { actor_id, resource_types } = grant.restrictions
  if (actor_id !== undefined) {
    if (filter.actor_id !== undefined && filter.actor_id !== actor_id) return null
    bounded.actor_id = actor_id
  }
  if (resource_types !== undefined) {
    if (filter.resource_type !== undefined) {
      if (!resource_types.includes(filter.resource_type)) return null
    } else {
      const asked = filter.resource_types
      const allowed = asked === undefined ? resource_types : asked.filter((type) => resource_types.includes(type))
      if (allowed.length === 0) return null
      bounded.resource_types = allowed
    }
  }
  return bounded
}

/** Whether one stored event lies within the token's bounds (for reads by id). */
export function grantCovers(grant: ViewerGrant, event: AuditEvent): boolean {
  if (event.tenant_id !== grant.tenant_id) return false
  const { actor_id, resource_types } = grant.restrictions
  if (actor_id !== undefined && event.actor_id !== actor_id) return false
  if (resource_types !== undefined && (event.resource_type === null || event.resource_type === undefined || !resource_types.includes(event.resource_type))) return false
  return true
}
