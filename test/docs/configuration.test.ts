/**
 * docs/configuration.md's settings table is generated from the settings table and the schema's
 * defaults, so a setting added, renamed or re-defaulted cannot leave the reference behind.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { withSettingsTable } from '../../src/config/reference.js'
import { ROOT } from './markdown.js'

describe('docs/configuration.md', () => {
  it('holds the settings table generated from src/config/settings.ts (run `npm run docs:config` after changing it)', () => {
    const document = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8')
    expect(document).toBe(withSettingsTable(document))
  })
})
