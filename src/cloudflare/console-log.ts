/** Structured JSON lines on the console: what Workers Logs and `wrangler tail` collect. */
export type CloudflareLog = (level: 'warn' | 'error', record: Record<string, unknown>) => void

export const consoleLog: CloudflareLog = (level, record) => {
  const line = JSON.stringify({ level, name: 'auditq-cloudflare', ...record })
  if (level === 'error') console.error(line)
  else console.warn(line)
}
