// @ts-check
/**
 * The only way this page puts data on screen: elements built with createElement and filled with
 * textContent. No script of the page ever hands a string to the HTML parser, so a stored string such
 * as `<script>` or `"><img onerror=…>` is always shown as the characters it is.
 */

/**
 * @param {string} tag
 * @param {{ className?: string, text?: string | number | null, attrs?: Record<string, string> }} [options]
 * @param {Node[]} [children]
 * @returns {HTMLElement}
 */
export function el(tag, options = {}, children = []) {
  const node = document.createElement(tag)
  if (options.className) node.className = options.className
  if (options.text !== undefined && options.text !== null) node.textContent = String(options.text)
  for (const [name, value] of Object.entries(options.attrs ?? {})) node.setAttribute(name, value)
  for (const child of children) node.append(child)
  return node
}

/** @param {Element} node @param {Node[]} children */
export function replaceChildren(node, children) {
  node.replaceChildren(...children)
}

/** @param {string} id @returns {HTMLElement} */
export function byId(id) {
  const node = document.getElementById(id)
  if (!node) throw new Error(`dashboard markup lacks #${id}`)
  return node
}

/** @param {string} id @returns {HTMLButtonElement} */
export function button(id) {
  return /** @type {HTMLButtonElement} */ (byId(id))
}

/** Thousands separators; '–' for a figure the server did not send. @param {unknown} value */
export function formatCount(value) {
  return typeof value === 'number' && Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '–'
}

/** @param {unknown} value @param {number} [digits] */
export function formatRate(value, digits = 1) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '–'
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(digits)
}

/** Seconds as "42 s", "3 m 05 s", "2 h 10 m"; null means nothing is waiting. @param {unknown} seconds */
export function formatAge(seconds) {
  if (seconds === null) return 'none waiting'
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '–'
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, '0')} s`
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} m`
}

/** ISO time as "2026-11-23 11:39:16.123" (UTC, like the stored value). @param {unknown} iso */
export function formatTime(iso) {
  if (typeof iso !== 'string') return '–'
  return iso.replace('T', ' ').replace(/Z$/, '')
}
