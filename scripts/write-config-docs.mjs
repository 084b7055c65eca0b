// Rewrites the generated settings table in docs/configuration.md from the built settings table
// (`npm run docs:config` builds first); test/docs/configuration.test.ts fails while they differ.
import { readFileSync, writeFileSync } from 'node:fs'
import { withSettingsTable } from '../dist/config/reference.js'

const file = new URL('../docs/configuration.md', import.meta.url)
writeFileSync(file, withSettingsTable(readFileSync(file, 'utf8')))
