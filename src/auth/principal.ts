/** `viewer` may only mint viewer tokens (POST /v1/viewer-tokens) for its tenant: what an application's backend needs to embed the viewer. */
export const SCOPES = ['ingest', 'read', 'admin', 'viewer'] as const
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
