// @ts-check
/**
 * Sparklines: a filled area and a line over the last minutes of one figure, drawn as inline SVG
 * (about 50 lines instead of a vendored chart library; see docs/decisions.md). Geometry goes in
 * through setAttribute on SVG elements, which the page's CSP allows; no markup strings.
 */

const SVG = 'http://www.w3.org/2000/svg'
const WIDTH = 100
const HEIGHT = 30

/** @returns {SVGSVGElement} */
export function createSparkline() {
  const svg = document.createElementNS(SVG, 'svg')
  svg.setAttribute('class', 'spark')
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`)
  svg.setAttribute('preserveAspectRatio', 'none')
  svg.setAttribute('aria-hidden', 'true')
  const area = document.createElementNS(SVG, 'path')
  area.setAttribute('class', 'area')
  const line = document.createElementNS(SVG, 'path')
  line.setAttribute('class', 'line')
  svg.append(area, line)
  return svg
}

/**
 * Redraws the sparkline. Missing values (null: e.g. no event waiting) are drawn as 0; the vertical
 * scale starts at 0 so a flat line at the top never exaggerates a tiny change.
 * @param {SVGSVGElement} svg
 * @param {(number | null | undefined)[]} values oldest first
 */
export function drawSparkline(svg, values) {
  const [area, line] = /** @type {SVGPathElement[]} */ (Array.from(svg.children))
  if (!area || !line) return
  const points = values.map((v) => (typeof v === 'number' && Number.isFinite(v) ? Math.max(0, v) : 0))
  svg.dataset.points = String(points.length)
  if (points.length < 2) {
    area.setAttribute('d', '')
    line.setAttribute('d', '')
    return
  }
  const max = Math.max(...points) || 1
  const x = (/** @type {number} */ i) => ((i / (points.length - 1)) * WIDTH).toFixed(2)
  const y = (/** @type {number} */ v) => (HEIGHT - 1 - (v / max) * (HEIGHT - 2)).toFixed(2)
  const path = points.map((v, i) => `${i === 0 ? 'M' : 'L'}${x(i)},${y(v)}`).join(' ')
  line.setAttribute('d', path)
  area.setAttribute('d', `${path} L${WIDTH},${HEIGHT} L0,${HEIGHT} Z`)
}
