/**
 * A stream definition from outside (HTTP body, CLI flags) into the domain's shape, every field
 * checked by name. Sink options are kept as text; each sink validates its own.
 */
import { z } from 'zod'
import { invalid, SINK_KINDS, STREAM_FORMATS, type StreamDefinition } from './definition.js'

const list = z.union([z.array(z.string()), z.string().transform((text) => text.split(',').map((s) => s.trim()).filter(Boolean))]).default([])

export const streamBodySchema = z.strictObject({
  name: z.string(),
  sink: z.enum(SINK_KINDS),
  url: z.string(),
  /** Set by an unbound (admin) caller to make a tenant's stream; a tenant's key always binds its own. */
  tenant: z.string().min(1).optional(),
  tenants: list,
  actions: list,
  categories: list,
  format: z.enum(STREAM_FORMATS).default('json'),
  batch_size: z.coerce.number().int().default(500),
  options: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
})

export type StreamBody = z.input<typeof streamBodySchema>

export function parseStreamBody(body: unknown): StreamDefinition {
  const result = streamBodySchema.safeParse(body)
  if (!result.success) {
    const issue = result.error.issues[0]!
    const field = issue.path.join('.') || (issue.code === 'unrecognized_keys' ? (issue as { keys?: string[] }).keys?.join(', ') ?? 'body' : 'body')
    throw invalid(field, issue.code, issue.message)
  }
  const b = result.data
  return {
    name: b.name,
    owner_tenant: b.tenant ?? null,
    sink: { kind: b.sink, url: b.url, options: b.options },
    filter: { tenants: b.tenants, actions: b.actions, categories: b.categories },
    format: b.format,
    batch_size: b.batch_size,
  }
}
