/** The viewer's calls to its own routes, each carrying the token; errors keep the service's code. */
export interface ViewerEvent {
  id: string
  occurred_at: string
  action: string
  actor_id: string | null
  resource_type: string | null
  resource_id: string | null
  success: boolean
  [field: string]: unknown
}

export interface Session {
  tenant_id: string
  permissions: string[]
  restrictions: { actor_id?: string; resource_types?: string[] }
  expires_at: string
  templates: Record<string, string>
}

export interface EventPage {
  events: ViewerEvent[]
  next_cursor: string | null
}

export class ViewerApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message)
  }
}

export class ViewerApi {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  session(): Promise<Session> {
    return this.json<Session>('/v1/viewer/session')
  }

  events(filter: Record<string, string>, cursor: string | null, limit: number): Promise<EventPage> {
    const query = new URLSearchParams(filter)
    query.set('limit', String(limit))
    if (cursor !== null) query.set('cursor', cursor)
    return this.json<EventPage>(`/v1/viewer/events?${query}`)
  }

  event(id: string): Promise<ViewerEvent> {
    return this.json<ViewerEvent>(`/v1/viewer/events/${encodeURIComponent(id)}`)
  }

  integrity(id: string): Promise<{ status: string; seq?: number; detail?: string }> {
    return this.json(`/v1/viewer/events/${encodeURIComponent(id)}/integrity`)
  }

  async exportCsv(filter: Record<string, string>): Promise<Blob> {
    const response = await this.fetch(`/v1/viewer/export?${new URLSearchParams(filter)}`)
    return response.blob()
  }

  private async json<T>(path: string): Promise<T> {
    const response = await this.fetch(path)
    return (await response.json()) as T
  }

  private async fetch(path: string): Promise<Response> {
    let response: Response
    try {
      response = await fetch(new URL(path.replace(/^\//, ''), this.baseUrl), { headers: { authorization: `Bearer ${this.token}` }, credentials: 'omit' })
    } catch {
      throw new ViewerApiError('NETWORK', 'The audit log service could not be reached.', 0)
    }
    if (response.ok) return response
    let code = 'HTTP_' + response.status
    let message = `The audit log service answered ${response.status}.`
    try {
      const body = (await response.json()) as { code?: unknown; message?: unknown }
      if (typeof body.code === 'string') code = body.code
      if (typeof body.message === 'string') message = body.message
    } catch {
      // A body that is not the service's JSON keeps the generic message.
    }
    throw new ViewerApiError(code, message, response.status)
  }
}
