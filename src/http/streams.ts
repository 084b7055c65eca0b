/**
 * The stream API (docs/streaming.md). Needs the `read` scope: a key manages the streams of its own
 * tenant, which see only that tenant's events. A key that also has `admin` manages every stream,
 * like the CLI (streams over all tenants are for the people who run the service).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { describeStream, type StreamAdmin, type StreamCaller } from '../stream/admin.js'
import { invalid } from '../stream/definition.js'
import { parseStreamBody } from '../stream/parse.js'
import { hasScope } from './principal.js'
import { documented } from './contract/contract.js'
import { STREAM_CONTRACTS as C } from './contract/streams.js'

export interface StreamRouteOptions {
  admin: StreamAdmin
}

function caller(request: FastifyRequest): StreamCaller {
  return { tenantId: hasScope(request, 'admin') ? null : request.principal.tenantId }
}

export async function streamRoutes(app: FastifyInstance, { admin }: StreamRouteOptions): Promise<void> {
  app.get(C.list.url, documented(C.list), async (request) => ({ streams: (await admin.list(caller(request))).map(describeStream) }))
  app.post(C.create.url, documented(C.create, { trail: 'stream.change' }), async (request, reply) => reply.status(201).send(describeStream(await admin.create(caller(request), parseStreamBody(request.body)))))
  app.get<{ Params: { name: string } }>(C.show.url, documented(C.show), async (request) => describeStream(await admin.show(caller(request), request.params.name)))
  app.delete<{ Params: { name: string } }>(C.remove.url, documented(C.remove, { trail: 'stream.change' }), async (request, reply) => {
    await admin.delete(caller(request), request.params.name)
    return reply.status(204).send()
  })
  app.post<{ Params: { name: string } }>(C.pause.url, documented(C.pause, { trail: 'stream.change' }), async (request) => describeStream(await admin.pause(caller(request), request.params.name)))
  app.post<{ Params: { name: string } }>(C.resume.url, documented(C.resume, { trail: 'stream.change' }), async (request) => describeStream(await admin.resume(caller(request), request.params.name)))
  app.post<{ Params: { name: string }; Body: { from_time?: unknown; from_cursor?: unknown } | undefined }>(C.replay.url, documented(C.replay, { trail: 'stream.replay' }), async (request, reply) => {
    const body = request.body ?? {}
    const text = (field: 'from_time' | 'from_cursor') => {
      const value = body[field]
      if (value !== undefined && typeof value !== 'string') throw invalid(field, 'type', `${field} must be a string`)
      return value
    }
    const time = text('from_time')
    const cursor = text('from_cursor')
    const replay = await admin.replay(caller(request), request.params.name, { ...(time !== undefined ? { time } : {}), ...(cursor !== undefined ? { cursor } : {}) })
    return reply.status(201).send(describeStream(replay))
  })
}
