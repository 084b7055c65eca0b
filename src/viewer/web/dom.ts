/**
 * Builds elements from text only: children are nodes or strings (set as text nodes), attributes
 * are set with setAttribute. There is no innerHTML anywhere in the viewer, so nothing an event
 * carries can become markup.
 */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Record<string, string | undefined> = {}, ...children: Array<Node | string | null | undefined>): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) if (value !== undefined) node.setAttribute(name, value)
  for (const child of children) if (child !== null && child !== undefined) node.append(typeof child === 'string' ? document.createTextNode(child) : child)
  return node
}

/** A JSON value as readable text. */
export function show(value: unknown): string {
  if (value === null || value === undefined) return '—'
  if (typeof value === 'string') return value
  return JSON.stringify(value, null, 2)
}
