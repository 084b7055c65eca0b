import { isIP } from 'node:net'
import { z } from 'zod'

/**
 * Field schemas and parsers that several config sections share. Environment variables arrive as
 * text, so every section that accepts one reads it the same way.
 */

/** PostgreSQL connection string (the primary's, or a read replica's). */
export function postgresUrl() {
  return z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
}

/** A boolean that also takes the text `true` / `false` from a variable; any other text fails as a boolean. */
export function textBoolean() {
  return z.preprocess((value) => (value === 'true' ? true : value === 'false' ? false : value), z.boolean())
}

/** A list that also takes comma-separated text from a variable; items are trimmed, empty ones dropped. */
export function commaList<Item extends z.ZodType>(item: Item) {
  return z.preprocess((value) => (typeof value === 'string' ? value.split(',').map((part) => part.trim()).filter(Boolean) : value), z.array(item))
}

/** What fastify's trustProxy (proxy-addr) accepts, checked here so a typo fails at start naming the setting. */
export function isProxyAddress(text: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(text)) return true
  const [address = '', prefix, ...rest] = text.split('/')
  const family = isIP(address)
  if (family === 0 || rest.length > 0) return false
  if (prefix === undefined) return true
  return /^\d{1,3}$/.test(prefix) ? Number(prefix) <= (family === 4 ? 32 : 128) : family === 4 && isIP(prefix) === 4
}

/** A JSON-valued variable; unparsable text is passed on, so the schema names the setting in its error. */
export function parseJsonSetting(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}
