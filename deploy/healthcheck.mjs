// Container health check: exits 0 when the URL answers 2xx within the timeout, 1 otherwise.
// The runtime image has no curl or wget (it stays small), and Node's fetch needs nothing extra.
// Default: the service's health route, which answers 503 from `warning` up
// (AUDITQ_HEALTH_FAIL_FROM raises that floor). Workers pass their metrics URL instead.
const url = process.argv[2] ?? `http://127.0.0.1:${process.env.AUDITQ_PORT ?? '3000'}/api/v1/monitoring/health`
const TIMEOUT_MS = 4_000

try {
  const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) })
  await response.arrayBuffer()
  if (!response.ok) console.error(`${url} answered ${response.status}`)
  process.exit(response.ok ? 0 : 1)
} catch (error) {
  console.error(`${url} unreachable: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
}
