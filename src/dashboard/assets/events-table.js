// @ts-check
/**
 * The recent-events table: filters, keyset paging through GET /v1/events, and live refresh.
 * It only ever holds one page (PAGE_SIZE rows), so it stays quick however many events are stored.
 * Live refresh redraws the first page only while the reader is not browsing; otherwise it counts
 * what arrived and offers a button, so rows never move under someone reading them.
 */
import { eventsPath, getJson } from './api.js'
import { button, byId, el, formatTime } from './dom.js'

export const PAGE_SIZE = 50
const FILTER_NAMES = ['actor_id', 'action', 'category', 'success', 'from', 'to']
const TIME_FILTERS = new Set(['from', 'to'])

/** @typedef {Record<string, any>} AuditEvent */

const state = {
  /** @type {Record<string, string>} filters as the API takes them (ISO times) */
  filters: {},
  /** @type {(string | null)[]} the cursor that opens each page visited; page 0 has none */
  cursors: [null],
  page: 0,
  /** @type {string | null} */
  nextCursor: null,
  /** @type {Set<string>} ids on the first page as last drawn, to highlight and count arrivals */
  firstPageIds: new Set(),
  /** @type {Set<string>} rows whose detail is open */
  expanded: new Set(),
  /** @type {AuditEvent[]} */
  shown: [],
  drawnOnce: false,
  /** Bumped by every navigation, so an answer to an older request (other filters, page) is dropped. */
  view: 0,
}

/** @type {(message: string | null) => void} */
let reportError = () => undefined

/**
 * The service's display templates and the viewer's renderer (text only), loaded once. Without
 * them (no read scope yet, an old service, the viewer bundle missing) the column shows the
 * description or error as before.
 * @type {{ render: (event: AuditEvent, templates: Record<string, string>) => string, templates: Record<string, string> } | null}
 */
let display = null

async function loadDisplayTemplates() {
  try {
    const { status, body } = await getJson('/v1/display-templates')
    if (status !== 200 || Object.keys(body.templates ?? {}).length === 0) return
    // A variable specifier: the viewer's bundle is served by the service, not part of these files.
    const specifier = '/viewer.js'
    const viewer = await import(specifier)
    display = { render: viewer.renderDisplayLine, templates: body.templates }
    render(state.shown)
  } catch {
    display = null
  }
}

/**
 * @param {{ onError: (message: string | null) => void }} options
 * @returns {() => Promise<void>} refresh, for the polling loop
 */
export function initEventsTable({ onError }) {
  reportError = onError
  void loadDisplayTemplates()
  const form = /** @type {HTMLFormElement} */ (byId('filters'))
  readFiltersFromHash(form)
  state.filters = filtersFromForm(form)
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    state.filters = filtersFromForm(form)
    writeFiltersToHash(state.filters)
    void goToPage(0)
  })
  byId('filters-clear').addEventListener('click', () => {
    form.reset()
    state.filters = {}
    writeFiltersToHash(state.filters)
    void goToPage(0)
  })
  byId('page-newest').addEventListener('click', () => void goToPage(0))
  byId('page-newer').addEventListener('click', () => void goToPage(Math.max(0, state.page - 1)))
  byId('page-older').addEventListener('click', () => {
    if (!state.nextCursor) return
    state.cursors[state.page + 1] = state.nextCursor
    void goToPage(state.page + 1)
  })
  byId('new-events').addEventListener('click', () => {
    state.expanded.clear()
    void goToPage(0).then(() => byId('events-section').scrollIntoView())
  })
  return refreshLive
}

/** @param {number} page */
async function goToPage(page) {
  state.view += 1
  state.page = page
  state.cursors.length = page + 1
  state.expanded.clear()
  // Clicks have no caller to report to: a refusal or outage goes to the page's error banner.
  await loadCurrentPage().catch((error) => reportError(`Events: ${error instanceof Error ? error.message : String(error)}`))
}

async function loadCurrentPage() {
  const view = state.view
  const page = await fetchPage(state.cursors[state.page] ?? null)
  if (!page || view !== state.view) return
  state.nextCursor = page.next_cursor
  render(page.events)
  if (state.page === 0) rememberFirstPage(page.events)
  byId('new-events').hidden = true
}

/** Called by the polling loop. */
async function refreshLive() {
  if (!readerIsBrowsing()) return loadCurrentPage()
  const view = state.view
  const first = await fetchPage(null)
  if (!first || view !== state.view) return
  const arrived = first.events.filter((e) => !state.firstPageIds.has(e.id)).length
  const banner = byId('new-events')
  banner.hidden = arrived === 0
  banner.textContent = `${arrived === first.events.length ? `${arrived}+` : arrived} newer event${arrived === 1 ? '' : 's'} — show the newest`
}

/** Reading an older page, an opened row, or the table scrolled past its top: do not move rows. */
function readerIsBrowsing() {
  if (state.page > 0 || state.expanded.size > 0) return true
  return byId('events-section').getBoundingClientRect().top < 0
}

/** @param {string | null} cursor @returns {Promise<{ events: AuditEvent[], next_cursor: string | null } | null>} */
async function fetchPage(cursor) {
  const { status, body } = await getJson(eventsPath(state.filters, { limit: PAGE_SIZE, cursor }))
  if (status !== 200) {
    // A refused filter (400 names the field) or a store outage (503): say so, keep the last rows.
    reportError(`Events: ${typeof body.message === 'string' ? body.message : `HTTP ${status}`}`)
    return null
  }
  reportError(null)
  return body
}

/** @param {AuditEvent[]} events */
function rememberFirstPage(events) {
  state.firstPageIds = new Set(events.map((e) => e.id))
  state.drawnOnce = true
}

/** @param {AuditEvent[]} events */
function render(events) {
  const fresh = state.page === 0 && state.drawnOnce ? events.filter((e) => !state.firstPageIds.has(e.id)).map((e) => e.id) : []
  const rows = []
  for (const event of events) {
    rows.push(eventRow(event, fresh.includes(event.id)))
    if (state.expanded.has(event.id)) rows.push(detailRow(event))
  }
  byId('events-body').replaceChildren(...rows)
  state.shown = events
  byId('events-empty').hidden = events.length > 0
  button('page-newer').disabled = state.page === 0
  button('page-newest').disabled = state.page === 0
  button('page-older').disabled = !state.nextCursor
  byId('page-info').textContent = `page ${state.page + 1} · ${events.length} event${events.length === 1 ? '' : 's'}`
}

/** @param {AuditEvent} event @param {boolean} fresh */
function eventRow(event, fresh) {
  const cell = (/** @type {unknown} */ text, className = '') => el('td', { className, text: text === null || text === undefined || text === '' ? '–' : String(text) })
  const resource = event.resource_type || event.resource_id ? `${event.resource_type ?? ''}/${event.resource_id ?? ''}` : null
  const row = el('tr', { className: `event${fresh ? ' fresh' : ''}`, attrs: { 'data-id': String(event.id) } }, [
    cell(formatTime(event.occurred_at), 'time'),
    cell(event.action, 'action'),
    cell(event.category, `category cat-${String(event.category)}`),
    cell(event.actor_id, 'actor'),
    cell(resource, 'resource'),
    cell(event.success ? 'ok' : 'failed', event.success ? 'result' : 'result failed'),
    cell(event.tenant_id, 'tenant'),
    cell(display && Object.hasOwn(display.templates, event.action) ? display.render(event, display.templates) : (event.error_message ?? event.description), 'text'),
  ])
  row.addEventListener('click', () => {
    if (state.expanded.has(event.id)) state.expanded.delete(event.id)
    else state.expanded.add(event.id)
    render(state.shown)
  })
  return row
}

/** The whole stored event, as JSON text. @param {AuditEvent} event */
function detailRow(event) {
  return el('tr', { className: 'detail' }, [el('td', { attrs: { colspan: '8' } }, [el('pre', { text: JSON.stringify(event, null, 2) })])])
}

/** @param {HTMLFormElement} form @returns {Record<string, string>} */
function filtersFromForm(form) {
  const data = new FormData(form)
  /** @type {Record<string, string>} */
  const filters = {}
  for (const name of FILTER_NAMES) {
    const value = String(data.get(name) ?? '').trim()
    if (value === '') continue
    if (TIME_FILTERS.has(name)) {
      // The table shows UTC, so the time inputs are read as UTC too.
      const ms = Date.parse(`${value}Z`)
      filters[name] = Number.isFinite(ms) ? new Date(ms).toISOString() : value
    } else filters[name] = value
  }
  return filters
}

/** Filters live in the URL fragment, so a reload or a shared link keeps them. @param {Record<string, string>} filters */
function writeFiltersToHash(filters) {
  const params = new URLSearchParams(filters)
  history.replaceState(null, '', `${location.pathname}${location.search}${params.size > 0 ? `#${params}` : ''}`)
}

/** @param {HTMLFormElement} form */
function readFiltersFromHash(form) {
  const params = new URLSearchParams(location.hash.slice(1))
  for (const name of FILTER_NAMES) {
    const value = params.get(name)
    const input = /** @type {HTMLInputElement | HTMLSelectElement | null} */ (form.elements.namedItem(name))
    if (value === null || !input) continue
    input.value = TIME_FILTERS.has(name) ? value.replace(/Z$/, '').replace(/\.\d+$/, '') : value
  }
}
