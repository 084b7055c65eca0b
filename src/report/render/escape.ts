/**
 * The one HTML escaping function. Every stored string reaches the report page through it, in
 * text and in attribute values alike: escaping both quote kinds makes its output safe inside
 * "…" and '…' attributes as well as between tags. It is not safe inside <script>, <style> or an
 * unquoted attribute, and the report page puts stored text in none of those.
 */
const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => ENTITIES[character]!)
}
