export const SCOPES = ['ingest', 'read', 'admin'] as const
export type Scope = (typeof SCOPES)[number]

/**
 * Who is calling. `tenantId` null means the caller is not bound to one tenant: only the open
 * loopback mode (no keys configured) produces such a principal; every API key binds one tenant.
 */
export interface Principal {
  readonly keyId: string | null
  /** The key's name, when it has one: recorded beside the id in the access trail. */
  readonly keyName?: string | null
  readonly tenantId: string | null
  readonly scopes: ReadonlySet<Scope>
}

export const OPEN_PRINCIPAL: Principal = Object.freeze({ keyId: null, tenantId: null, scopes: new Set<Scope>(SCOPES) })
