// @ts-check
/**
 * Every call the page makes to the service. The API key (when the deployment uses keys) lives in
 * sessionStorage: it survives a reload but not the tab, and is sent as `Authorization: Bearer` on
 * every request. In open mode no key is needed and none is sent.
 */

const KEY_STORAGE = 'auditq.dashboard.apiKey'

export function apiKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? ''
  } catch {
    return '' // storage disabled (privacy mode): the page still works without a key
  }
}

/** @param {string} key */
export function setApiKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key)
    else sessionStorage.removeItem(KEY_STORAGE)
  } catch {
    // storage disabled: the key is simply not kept
  }
}

/**
 * A refusal the person can fix by giving a (different) key.
 * @property {number} status 401 no valid key, 403 the key lacks a scope
 */
export class AccessError extends Error {
  /** @param {number} status @param {string} path @param {string} message */
  constructor(status, path, message) {
    super(message)
    this.status = status
    this.path = path
  }
}

/**
 * GET a JSON endpoint. Resolves `{ status, body }` for any JSON answer (health answers 503 with a
 * useful body); throws AccessError on 401/403 and Error when the service is unreachable or the
 * answer is not JSON.
 * @param {string} path
 * @returns {Promise<{ status: number, body: any }>}
 */
export async function getJson(path) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' }
  const key = apiKey()
  if (key) headers.authorization = `Bearer ${key}`
  const response = await fetch(path, { headers, cache: 'no-store', credentials: 'omit' })
  const type = response.headers.get('content-type') ?? ''
  const body = type.includes('json') ? await response.json() : null
  if (response.status === 401 || response.status === 403) {
    const message = body && typeof body.message === 'string' ? body.message : `HTTP ${response.status}`
    throw new AccessError(response.status, path, message)
  }
  if (body === null) throw new Error(`${path} answered HTTP ${response.status} without JSON`)
  return { status: response.status, body }
}

/**
 * The query string for GET /v1/events from the applied filters (empty values left out).
 * @param {Record<string, string>} filters
 * @param {{ limit: number, cursor?: string | null }} page
 */
export function eventsPath(filters, page) {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(filters)) if (value !== '') params.set(name, value)
  params.set('limit', String(page.limit))
  if (page.cursor) params.set('cursor', page.cursor)
  return `/v1/events?${params}`
}
