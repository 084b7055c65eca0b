import { CONFIG_DEFAULTS } from '../config.js'
import { SETTINGS, type Setting } from './settings.js'

/** docs/configuration.md holds the generated table between these lines (`npm run docs:config` rewrites it). */
export const REFERENCE_BEGIN = '<!-- settings:begin (generated from src/config/settings.ts by `npm run docs:config`; do not edit by hand) -->'
export const REFERENCE_END = '<!-- settings:end -->'

/** The markdown reference table: one row per environment variable, defaults read from the schema. */
export function renderSettingsTable(settings: readonly Setting[] = SETTINGS): string {
  const rows = settings.map((setting) =>
    `| \`${setting.env}\` | ${setting.flag ? `\`${setting.flag}\`` : ''} | \`${setting.path}\` | ${defaultText(setting)} | ${setting.description} |`,
  )
  return ['| env | flag | config | default | |', '|---|---|---|---|---|', ...rows].join('\n')
}

/** `document` with the text between the markers replaced by the current table. */
export function withSettingsTable(document: string): string {
  const begin = document.indexOf(REFERENCE_BEGIN)
  const end = document.indexOf(REFERENCE_END)
  if (begin === -1 || end < begin) throw new Error('docs/configuration.md has lost its settings markers')
  return `${document.slice(0, begin + REFERENCE_BEGIN.length)}\n${renderSettingsTable()}\n${document.slice(end)}`
}

function defaultText(setting: Setting): string {
  const value = setting.path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], CONFIG_DEFAULTS)
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return setting.whenUnset ?? '—'
  return Array.isArray(value) ? value.map((item) => `\`${String(item)}\``).join(', ') : `\`${String(value)}\``
}
