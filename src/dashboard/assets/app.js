// @ts-check
/**
 * Wires the page: the API key field, the polling loop (every 2 s, paused while the tab is hidden
 * or "live" is unticked), and the three panels. Each panel fails on its own: a refused metrics
 * call still leaves the status (from the public health endpoint) and the events table working.
 */
import { AccessError, apiKey, getJson, setApiKey } from './api.js'
import { byId } from './dom.js'
import { initEventsTable } from './events-table.js'
import { buildCards, renderCards, renderStatus, renderUnreachable } from './panels.js'

const POLL_MS = 2_000

/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer
let polling = false
let polls = 0

/** @type {Map<string, string>} panel → problem, shown together in one banner */
const problems = new Map()
/** @type {Map<string, AccessError>} */
const refusals = new Map()

function showProblems() {
  const banner = byId('fetch-error')
  banner.textContent = [...problems.values()].join(' · ')
  banner.hidden = problems.size === 0
  const prompt = byId('auth-prompt')
  const first = [...refusals.values()][0]
  prompt.hidden = !first
  if (first) {
    prompt.textContent =
      first.status === 401
        ? `The service needs an API key (${first.message}). Enter a key with the "read" scope for events and "admin" for pipeline figures in the API key field above.`
        : `This API key may not see everything here (${first.message}). Events need the "read" scope, pipeline figures the "admin" scope.`
  }
}

/** @param {string} panel @param {unknown} error */
function recordFailure(panel, error) {
  if (error instanceof AccessError) refusals.set(panel, error)
  else problems.set(panel, `${panel}: ${error instanceof Error ? error.message : String(error)}`)
}

/** @param {string} panel */
function recordSuccess(panel) {
  problems.delete(panel)
  refusals.delete(panel)
}

/** A server from before the monitoring endpoints: not a fault, the page just shows less. */
class MissingFigures extends Error {}

/** Status and figures: the admin endpoints when allowed, else the public health status alone. */
async function refreshPipeline() {
  try {
    const { status, body } = await getJson('/api/v1/monitoring/audit-metrics')
    if (status === 404) throw new MissingFigures()
    if (status !== 200) throw new Error(`audit-metrics answered HTTP ${status}`)
    const history = await getJson('/api/v1/monitoring/history').catch(() => null)
    const samples = history && history.status === 200 && Array.isArray(history.body.samples) ? history.body.samples : []
    renderStatus({ status: body.health?.status, issues: body.health?.issues, recommendations: body.recommendations })
    renderCards(body.metrics ?? null, samples)
    byId('mode').textContent = `${String(body.metrics?.mode ?? '')} mode`
    const span = samples.length > 1 ? Math.round((Date.parse(samples.at(-1).t) - Date.parse(samples[0].t)) / 60_000) : 0
    byId('history-span').textContent = samples.length > 1 ? `charts: last ${Math.max(1, span)} min` : 'charts fill as history accumulates'
    recordSuccess('Pipeline')
    recordSuccess('Status')
  } catch (error) {
    // Figures unavailable (no admin scope, or an older server): still show the public status.
    renderCards(null, [])
    byId('history-span').textContent = error instanceof AccessError ? 'figures need a key with the admin scope' : 'figures unavailable'
    if (error instanceof MissingFigures) recordSuccess('Pipeline')
    else recordFailure('Pipeline', error)
    await refreshHealthOnly()
  }
}

async function refreshHealthOnly() {
  try {
    const { body } = await getJson('/api/v1/monitoring/health')
    renderStatus({ status: body.status, issues: body.issues })
    byId('mode').textContent = body.pipeline?.mode ? `${String(body.pipeline.mode)} mode` : ''
    problems.delete('Status')
  } catch (error) {
    renderUnreachable(`the service did not answer: ${error instanceof Error ? error.message : String(error)}`)
    recordFailure('Status', error)
  }
}

/** @param {() => Promise<void>} refreshEvents */
async function poll(refreshEvents) {
  if (polling) return
  polling = true
  document.body.dataset.refreshing = 'true'
  try {
    await Promise.all([
      refreshPipeline(),
      // The table reports its own refusals (a 400 naming the filter); only what it throws lands here.
      refreshEvents().then(
        () => refusals.delete('Events'),
        (error) => recordFailure('Events', error),
      ),
    ])
    showProblems()
    polls += 1
    document.body.dataset.polls = String(polls)
    byId('updated').textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC`
  } finally {
    polling = false
    document.body.dataset.refreshing = 'false'
  }
}

/** @param {() => Promise<void>} refreshEvents */
function schedule(refreshEvents) {
  clearTimeout(timer)
  const live = /** @type {HTMLInputElement} */ (byId('live')).checked
  if (!live || document.hidden) return // resumed by the visibility or checkbox listener
  timer = setTimeout(() => void poll(refreshEvents).finally(() => schedule(refreshEvents)), POLL_MS)
}

function start() {
  buildCards()
  const refreshEvents = initEventsTable({
    onError: (message) => {
      if (message) problems.set('Events', message)
      else problems.delete('Events')
      showProblems()
    },
  })
  const keyInput = /** @type {HTMLInputElement} */ (byId('api-key'))
  keyInput.value = apiKey()
  const now = () => void poll(refreshEvents).finally(() => schedule(refreshEvents))
  byId('key-form').addEventListener('submit', (e) => {
    e.preventDefault()
    setApiKey(keyInput.value.trim())
    refusals.clear()
    now()
  })
  byId('key-clear').addEventListener('click', () => {
    keyInput.value = ''
    setApiKey('')
    refusals.clear()
    now()
  })
  byId('live').addEventListener('change', () => {
    if (/** @type {HTMLInputElement} */ (byId('live')).checked) now()
    else clearTimeout(timer)
  })
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) now()
    else clearTimeout(timer)
  })
  now()
}

start()
