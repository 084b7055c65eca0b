import type { FastifyReply, FastifyRequest } from 'fastify'

/**
 * CORS for the viewer: an origin on the deployment's allow-list gets itself echoed back, anyone
 * else gets no CORS header at all (the browser then keeps the answer from the page). Never `*`:
 * the list is explicit per deployment, empty meaning same-origin only.
 */
export function allowOrigin(request: FastifyRequest, reply: FastifyReply, allowed: readonly string[]): void {
  reply.header('vary', 'Origin')
  const origin = request.headers.origin
  if (typeof origin !== 'string' || !allowed.includes(origin)) return
  reply.header('access-control-allow-origin', origin).header('access-control-expose-headers', 'content-disposition')
}

/** Who may frame the standalone page: this origin and the allow-listed ones. */
export function frameAncestors(allowed: readonly string[]): string {
  return ["'self'", ...allowed].join(' ')
}
