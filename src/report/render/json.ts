import type { Report } from '../model.js'

/** The report exactly as the API returns it, indented for people reading a file. */
export function renderJson(report: Report): string {
  return JSON.stringify(report, null, 2) + '\n'
}
