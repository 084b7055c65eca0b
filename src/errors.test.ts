import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { AuditqError, ERROR_CATALOG, type ErrorCode } from './errors.js'

describe('error catalog', () => {
  it('is documented in full in the error table of docs/errors.md, with matching statuses', () => {
    const table = readFileSync(join(import.meta.dirname, '..', 'docs', 'errors.md'), 'utf8')
    for (const [code, { status }] of Object.entries(ERROR_CATALOG)) {
      expect(table, code).toMatch(new RegExp(`\\| \`${code}\` \\| ${status} \\|`))
    }
  })

  it('gives every error its code and status, and keeps instanceof working', () => {
    for (const code of Object.keys(ERROR_CATALOG) as ErrorCode[]) {
      const error = new AuditqError(code, 'x')
      expect(error).toBeInstanceOf(Error)
      expect(error.statusCode).toBe(ERROR_CATALOG[code].status)
      expect(error.stack).toBeDefined()
    }
  })
})
