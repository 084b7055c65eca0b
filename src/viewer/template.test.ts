import { describe, expect, it } from 'vitest'
import { renderDisplayLine } from './template.js'

const event = {
  action: 'user.invited',
  actor_id: 'u-1',
  actor_name: 'Alice',
  resource_type: 'team',
  resource_id: 't-9',
  targets: [
    { type: 'user', id: 'u-2', name: 'Bob' },
    { type: 'team', id: 't-9', name: 'Platform' },
  ],
  metadata: { plan: 'pro' },
}

describe('display templates', () => {
  it('fill actor, targets by type, metadata and nested paths', () => {
    const templates = { 'user.invited': '{actor_name} invited {targets.user.name} to {targets.team.name} ({metadata.plan})' }
    expect(renderDisplayLine(event, templates)).toBe('Alice invited Bob to Platform (pro)')
  })

  it('fall back to the plain summary when a field is missing, never a half sentence', () => {
    const templates = { 'user.invited': '{actor_name} invited {targets.group.name}' }
    expect(renderDisplayLine(event, templates)).toBe('Alice (u-1) · user.invited · team/t-9')
    expect(renderDisplayLine({ action: 'x' }, {})).toBe('unknown actor · x')
  })

  it('never reach prototypes, and leave markup as text', () => {
    expect(renderDisplayLine({ ...event, action: 'a' }, { a: '{constructor} {__proto__}' })).toBe('Alice (u-1) · a · team/t-9')
    expect(renderDisplayLine({ action: 'a', actor_name: '<img src=x onerror=alert(1)>' }, { a: '<b>{actor_name}</b>' })).toBe('<b><img src=x onerror=alert(1)></b>')
  })
})
