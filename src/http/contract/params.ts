/** Query-string building blocks: every value arrives as a string (an array when repeated, which is refused). */
import { z } from 'zod'
import { CATEGORIES } from '../../event/types.js'

export const MAX_FILTER_LENGTH = 256

/** A filter value: 1–256 characters, no NUL (no stored value holds one, and PostgreSQL refuses it in a parameter). */
export const filterText = (description: string) =>
  z
    .string()
    .min(1, { error: `must be 1–${MAX_FILTER_LENGTH} characters` })
    .max(MAX_FILTER_LENGTH, { error: `must be 1–${MAX_FILTER_LENGTH} characters` })
    .regex(/^[^\u0000]*$/, { error: 'must not contain NUL characters' })
    .describe(description)
    .optional()

/** ISO-8601 with a zone, a bare date (UTC midnight) or epoch milliseconds: what `parseInstant` reads. */
export const INSTANT_PATTERN = /^(-?\d{1,16}|\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2}))?)$/
const INSTANT_MESSAGE = 'must be an ISO-8601 time with a zone (e.g. 2026-01-31T00:00:00Z) or epoch milliseconds, between 1970 and 9999'

export const instant = (description: string) =>
  z.string().regex(INSTANT_PATTERN, { error: INSTANT_MESSAGE }).describe(description).optional()

/** The event filter shared by the list and the export (src/query/filter.ts applies it). */
export const eventFilterShape = {
  tenant_id: filterText("Only this tenant (a key bound to a tenant may ask only for its own)."),
  actor_id: filterText('Exact actor id.'),
  action: filterText('Exact action.'),
  resource_type: filterText('Exact resource type.'),
  resource_id: filterText('Exact resource id.'),
  category: z.enum(CATEGORIES, { error: `must be one of ${CATEGORIES.join(', ')}` }).optional(),
  success: z.enum(['true', 'false'], { error: 'must be true or false' }).optional(),
  from: instant('Events that occurred at or after this time.'),
  to: instant('Events that occurred before this time.'),
}

export const FILTER_RULES = {
  tenant_id: 'no_nul',
  actor_id: 'no_nul',
  action: 'no_nul',
  resource_type: 'no_nul',
  resource_id: 'no_nul',
  category: 'enum',
  success: 'boolean',
  from: 'timestamp',
  to: 'timestamp',
}

/** A positive integer in a query string, 1..max. */
export const boundedInteger = (max: number, message: string, description: string) => {
  // The value seen is quoted (cut short), so a client sees what the server read.
  const error = (issue: { input?: unknown }) => `${message}; got ${JSON.stringify(String(issue.input).slice(0, 20))}`
  return z
    .string()
    .regex(/^\d{1,15}$/, { error })
    .refine((value) => Number(value) >= 1 && Number(value) <= max, { error })
    .describe(description)
    .optional()
}
