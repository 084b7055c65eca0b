import { ViewerApi, ViewerApiError, type Session, type ViewerEvent } from './api.js'
import { el } from './dom.js'
import { drawerContent, safeLine, showIntegrity } from './drawer.js'
import { Formats, localInputToIso, pageLocale } from './format.js'
import { viewerStyles } from './styles.js'

/**
 * `<auditq-viewer token="…" base-url="https://audit.example.com/" theme="dark">`: one tenant's
 * audit log, newest first, for the holder of a viewer token. Everything shown is set as text.
 * The service at `base-url` (default: where this script was loaded from) enforces the token's
 * bounds; the filters here can only narrow them.
 */
const PAGE_SIZE = 50
/** The viewer routes' own bound on `limit`. */
const MAX_PAGE_SIZE = 200
const SEARCH_DEBOUNCE_MS = 300

const MESSAGES: Record<string, string> = {
  AUDITQ_VIEWER_TOKEN_EXPIRED: 'Your access to this audit log has expired. Reload the page to continue.',
  AUDITQ_VIEWER_TOKEN_INVALID: 'This audit log cannot be shown: the access token is not valid. Reload the page; if it persists, contact the application’s support.',
  AUDITQ_VIEWER_DISABLED: 'The audit log viewer is not enabled on this service.',
  NETWORK: 'The audit log service could not be reached. Check the connection and reload the page.',
  NO_TOKEN: 'This audit log cannot be shown: no access token was given.',
}

export class AuditqViewer extends HTMLElement {
  static observedAttributes = ['token', 'base-url']

  private readonly shadow: ShadowRoot
  private readonly rows: HTMLTableSectionElement
  private readonly table: HTMLTableElement
  private readonly scroller: HTMLDivElement
  private readonly message: HTMLDivElement
  private readonly status: HTMLParagraphElement
  private readonly more: HTMLButtonElement
  private readonly exportButton: HTMLButtonElement
  private readonly drawer: HTMLElement
  private readonly form: HTMLFormElement
  private readonly zoneNote: HTMLSpanElement
  private readonly observer: IntersectionObserver
  private api: ViewerApi | null = null
  private session: Session | null = null
  private formats = new Formats('en')
  private cursor: string | null = null
  private loaded = 0
  private loading = false
  /** Bumped by every reset, so an answer to an older filter or token is dropped. */
  private generation = 0
  private searchTimer: ReturnType<typeof setTimeout> | undefined
  private drawerOpener: HTMLElement | null = null
  private scheduled = false

  constructor() {
    super()
    this.shadow = this.attachShadow({ mode: 'open' })
    this.shadow.adoptedStyleSheets = [viewerStyles()]
    const field = (label: string, input: HTMLElement, cls?: string) => el('label', { class: cls }, label, input)
    this.form = el(
      'form',
      { class: 'toolbar', part: 'toolbar', role: 'search', 'aria-label': 'Filter the audit log' },
      field('Search', el('input', { type: 'search', name: 'q', part: 'search', autocomplete: 'off', placeholder: 'Search events' }), 'search'),
      field('Actor', el('input', { type: 'text', name: 'actor_id', part: 'filter', autocomplete: 'off' })),
      field('Action', el('input', { type: 'text', name: 'action', part: 'filter', autocomplete: 'off' })),
      field('Resource type', el('input', { type: 'text', name: 'resource_type', part: 'filter', autocomplete: 'off' })),
      field('Outcome', el('select', { name: 'success', part: 'filter' }, el('option', { value: '' }, 'Any'), el('option', { value: 'true' }, 'Succeeded'), el('option', { value: 'false' }, 'Failed'))),
      field('From', el('input', { type: 'datetime-local', name: 'from', part: 'filter', step: '1' })),
      field('To', el('input', { type: 'datetime-local', name: 'to', part: 'filter', step: '1' })),
      el('button', { type: 'submit', part: 'button apply-button' }, 'Apply'),
    )
    this.exportButton = el('button', { type: 'button', part: 'button export-button', hidden: '' }, 'Export CSV')
    this.form.append(this.exportButton)
    this.message = el('div', { class: 'message', part: 'message', role: 'alert', hidden: '' })
    this.zoneNote = el('span', { part: 'time-zone' })
    this.rows = el('tbody', { part: 'rows' })
    this.table = el(
      'table',
      { part: 'table', 'aria-busy': 'false' },
      el('caption', { class: 'visually-hidden' }, 'Audit log events, newest first'),
      el('thead', {}, el('tr', {}, ...['Time', 'Actor', 'Action', 'Resource', 'Outcome', 'Event'].map((h) => el('th', { scope: 'col' }, h)))),
      this.rows,
    )
    const sentinel = el('div', { class: 'sentinel', 'aria-hidden': 'true' })
    this.scroller = el('div', { class: 'scroller', part: 'scroller', tabindex: '0', role: 'region', 'aria-label': 'Audit log events' }, this.table, sentinel)
    this.status = el('p', { part: 'status', role: 'status', 'aria-live': 'polite' })
    this.more = el('button', { type: 'button', part: 'button more-button', hidden: '' }, 'Load more')
    this.drawer = el('aside', { class: 'drawer', part: 'drawer', role: 'dialog', 'aria-modal': 'false', hidden: '', tabindex: '-1' })
    const footer = el('div', { class: 'footer', part: 'footer' }, this.status, this.zoneNote, this.more)
    this.shadow.append(el('div', { class: 'root', part: 'root' }, this.form, this.message, this.scroller, footer, this.drawer))

    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.loadMore()
    }, { root: this.scroller, rootMargin: '200px' })
    this.observer.observe(sentinel)
    this.form.addEventListener('submit', (event) => {
      event.preventDefault()
      this.reset()
    })
    this.form.addEventListener('change', (event) => {
      // Typed filters apply on Enter (submit) and search as it is typed; selects and dates at once.
      const target = event.target as HTMLInputElement
      if (target.tagName !== 'INPUT' || (target.type !== 'text' && target.type !== 'search')) this.reset()
    })
    this.form.addEventListener('input', (event) => {
      if ((event.target as HTMLInputElement).name !== 'q') return
      clearTimeout(this.searchTimer)
      this.searchTimer = setTimeout(() => this.reset(), SEARCH_DEBOUNCE_MS)
    })
    this.more.addEventListener('click', () => this.loadMore())
    this.exportButton.addEventListener('click', () => void this.exportCsv())
    this.drawer.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') this.closeDrawer()
    })
  }

  connectedCallback(): void {
    this.formats = new Formats(pageLocale(this))
    this.zoneNote.textContent = `Times in ${this.formats.timeZone}`
    this.schedule()
  }

  disconnectedCallback(): void {
    this.generation += 1
  }

  attributeChangedCallback(): void {
    if (this.isConnected) this.schedule()
  }

  /** Attributes set one after another in the same task start one session, not several. */
  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      void this.start()
    })
  }

  private tokenValue(): string | null {
    const attribute = this.getAttribute('token')
    if (attribute) return attribute
    if (this.hasAttribute('token-from-fragment')) return new URLSearchParams(location.hash.slice(1)).get('token')
    return null
  }

  private baseUrl(): string {
    const given = this.getAttribute('base-url')
    // By default the service is where this script came from: it serves /viewer.js itself.
    const base = given ? new URL(given, location.href) : new URL('.', import.meta.url)
    return base.href.endsWith('/') ? base.href : `${base.href}/`
  }

  private async start(): Promise<void> {
    const generation = ++this.generation
    this.closeDrawer()
    this.clearRows()
    if (this.hasAttribute('token-from-fragment') && !this.hasAttribute('theme')) {
      const theme = new URLSearchParams(location.hash.slice(1)).get('theme')
      if (theme === 'dark' || theme === 'light') this.setAttribute('theme', theme)
    }
    const token = this.tokenValue()
    if (!token) return this.fail(new ViewerApiError('NO_TOKEN', MESSAGES.NO_TOKEN!, 0))
    this.api = new ViewerApi(this.baseUrl(), token)
    this.setState('loading')
    try {
      const session = await this.api.session()
      if (generation !== this.generation) return
      this.session = session
      this.exportButton.hidden = !session.permissions.includes('export')
      const actor = this.form.elements.namedItem('actor_id') as HTMLInputElement
      if (session.restrictions.actor_id !== undefined) {
        actor.value = session.restrictions.actor_id
        actor.readOnly = true
      }
    } catch (error) {
      if (generation === this.generation) this.fail(error)
      return
    }
    this.loadMore()
  }

  private filter(): Record<string, string> {
    const data = new FormData(this.form)
    const filter: Record<string, string> = {}
    for (const name of ['q', 'actor_id', 'action', 'resource_type', 'success']) {
      const value = String(data.get(name) ?? '').trim()
      if (value !== '') filter[name] = value
    }
    for (const name of ['from', 'to']) {
      const iso = localInputToIso(String(data.get(name) ?? ''))
      if (iso !== undefined) filter[name] = iso
    }
    return filter
  }

  private reset(): void {
    if (!this.api || !this.session) return void this.start()
    this.generation += 1
    this.clearRows()
    this.loadMore()
  }

  private clearRows(): void {
    this.rows.replaceChildren()
    this.cursor = null
    this.loaded = 0
    this.loading = false
    this.more.hidden = true
    this.message.hidden = true
    this.dataset.done = 'false'
  }

  private loadMore(): void {
    if (this.loading || !this.api || !this.session || this.dataset.done === 'true') return
    this.loading = true
    this.table.setAttribute('aria-busy', 'true')
    this.setState('loading')
    const generation = this.generation
    const api = this.api
    api
      .events(this.filter(), this.cursor, Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(Number(this.getAttribute('page-size')) || PAGE_SIZE))))
      .then((page) => {
        if (generation !== this.generation) return
        this.loading = false
        this.table.setAttribute('aria-busy', 'false')
        this.message.hidden = true
        this.appendRows(page.events)
        this.cursor = page.next_cursor
        this.dataset.done = String(page.next_cursor === null)
        this.more.hidden = page.next_cursor === null
        this.status.textContent = this.loaded === 0 ? 'No events match.' : `${this.formats.count(this.loaded)} events shown${page.next_cursor === null ? '' : '; scroll for more'}`
        this.setState('ready')
        // A short first page may leave the sentinel visible without a new intersection: keep going.
        if (page.next_cursor !== null && this.scroller.scrollHeight <= this.scroller.clientHeight) this.loadMore()
      })
      .catch((error: unknown) => {
        if (generation !== this.generation) return
        this.loading = false
        this.table.setAttribute('aria-busy', 'false')
        this.fail(error)
      })
  }

  private appendRows(events: ViewerEvent[]): void {
    const templates = this.session?.templates ?? {}
    const fragment = document.createDocumentFragment()
    for (const event of events) {
      const open = el('button', { type: 'button', part: 'row-button', 'aria-haspopup': 'dialog' }, safeLine(event, templates))
      open.addEventListener('click', () => void this.openDrawer(event.id, open))
      const actor = typeof event.actor_name === 'string' && event.actor_name !== '' ? event.actor_name : (event.actor_id ?? '—')
      const resource = [event.resource_type, event.resource_id].filter((p) => p !== null && p !== undefined).join('/') || '—'
      fragment.append(
        el(
          'tr',
          { part: 'row', 'data-id': event.id },
          el('td', { class: 'time' }, el('time', { datetime: event.occurred_at }, this.formats.time(event.occurred_at))),
          el('td', { class: 'actor' }, actor),
          el('td', { class: 'action' }, event.action),
          el('td', { class: 'resource' }, resource),
          el('td', { class: event.success ? 'outcome outcome-success' : 'outcome outcome-failure' }, event.success ? 'Succeeded' : 'Failed'),
          el('td', { class: 'summary' }, open),
        ),
      )
    }
    this.rows.append(fragment)
    this.loaded += events.length
    this.dataset.rows = String(this.loaded)
  }

  private async openDrawer(id: string, opener: HTMLElement): Promise<void> {
    if (!this.api || !this.session) return
    this.drawerOpener = opener
    const generation = this.generation
    try {
      const event = await this.api.event(id)
      if (generation !== this.generation) return
      const close = el('button', { type: 'button', class: 'close', part: 'button close-button', 'aria-label': 'Close details' }, '×')
      close.addEventListener('click', () => this.closeDrawer())
      const headingId = 'auditq-drawer-heading'
      this.drawer.setAttribute('aria-labelledby', headingId)
      this.drawer.replaceChildren(close, ...drawerContent(event, this.session.templates, this.formats, headingId))
      this.drawer.hidden = false
      this.drawer.dataset.id = id
      close.focus()
      const line = this.drawer.querySelector('[part=drawer-integrity]')!
      this.api.integrity(id).then(
        (result) => {
          if (this.drawer.dataset.id === id && generation === this.generation) showIntegrity(line, result)
        },
        () => {
          if (this.drawer.dataset.id === id && generation === this.generation) showIntegrity(line, null)
        },
      )
    } catch (error) {
      if (generation === this.generation) this.fail(error)
    }
  }

  private closeDrawer(): void {
    if (this.drawer.hidden) return
    this.drawer.hidden = true
    this.drawer.replaceChildren()
    delete this.drawer.dataset.id
    this.drawerOpener?.focus()
    this.drawerOpener = null
  }

  private async exportCsv(): Promise<void> {
    if (!this.api) return
    try {
      const blob = await this.api.exportCsv(this.filter())
      const url = URL.createObjectURL(blob)
      const link = el('a', { href: url, download: `audit-log-${new Date().toISOString().slice(0, 10)}.csv` })
      this.shadow.append(link)
      link.click()
      link.remove()
      setTimeout(() => URL.revokeObjectURL(url), 10_000)
    } catch (error) {
      this.fail(error)
    }
  }

  private fail(error: unknown): void {
    const code = error instanceof ViewerApiError ? error.code : 'UNKNOWN'
    const text = MESSAGES[code] ?? (error instanceof ViewerApiError ? error.message : 'Something went wrong while showing the audit log.')
    this.message.textContent = text
    this.message.hidden = false
    this.message.dataset.code = code
    this.status.textContent = ''
    this.more.hidden = true
    this.setState('error')
    this.dispatchEvent(new CustomEvent('auditq-viewer-error', { detail: { code, message: text }, bubbles: true, composed: true }))
  }

  private setState(state: 'loading' | 'ready' | 'error'): void {
    this.dataset.state = state
  }
}

if (!customElements.get('auditq-viewer')) customElements.define('auditq-viewer', AuditqViewer)

export { renderDisplayLine } from '../template.js'
