import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from '../util/logger.js'

export interface MetricsServer {
  url: string
  close(): Promise<void>
}

/**
 * A bare HTTP listener for GET /metrics, for processes that run no fastify service (`auditq
 * worker --metrics-port`). No auth: it binds the configured host (loopback by default) and serves
 * figures only, never events.
 */
export async function serveMetrics(options: { host: string; port: number; render: () => Promise<{ contentType: string; body: string }>; logger: Logger }): Promise<MetricsServer> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || (request.url ?? '').split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n')
      return
    }
    options.render().then(
      ({ contentType, body }) => response.writeHead(200, { 'content-type': contentType }).end(body),
      (error: unknown) => {
        options.logger.warn({ err_message: (error as Error).message }, 'metrics scrape failed')
        response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n')
      },
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => resolve())
  })
  // Serving metrics never keeps a process alive that is otherwise done (a supervisor whose workers exited).
  server.unref()
  const { address, port } = server.address() as AddressInfo
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}/metrics`
  return {
    url,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
