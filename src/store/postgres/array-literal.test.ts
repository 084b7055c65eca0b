/**
 * The inserts hand PostgreSQL each column as array literal text written here, not by the driver:
 * every value must come back exactly as sent, whatever it holds.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { POSTGRES_URL, postgresAvailable } from '../../../test/support/services.js'
import { arrayLiteral, unnestParams } from './sql.js'
import { storedEvent } from '../../../test/support/events.js'
import { EVENT_FIELDS } from '../../event/types.js'

const hasPostgres = await postgresAvailable()

const HOSTILE = [
  '',
  'plain',
  'NULL',
  'null',
  'with "quotes" inside',
  'back\\slash and \\" both',
  'trailing backslash \\',
  '{braces},[brackets],commas',
  '  leading and trailing spaces  ',
  'tab\there\nnewline\r\ncrlf',
  'émoji 🔐 and 中文',
  "single 'quotes'",
  '\\N',
]

describe.skipIf(!hasPostgres)('array literals sent to PostgreSQL', () => {
  let client: pg.Client
  beforeAll(async () => {
    client = new pg.Client({ connectionString: POSTGRES_URL })
    await client.connect()
  })
  afterAll(() => client?.end())

  it('round-trips every hostile string and NULL through text[]', async () => {
    const values = [...HOSTILE, null]
    const { rows } = await client.query<{ v: string | null }>('SELECT v FROM unnest($1::text[]) WITH ORDINALITY AS u(v, o) ORDER BY o', [arrayLiteral(values)])
    expect(rows.map((row) => row.v)).toEqual(values)
  })

  it('round-trips every column of events carrying hostile values, jsonb included', async () => {
    const events = HOSTILE.map((text, i) =>
      storedEvent({ description: text, actor_id: text === '' ? null : text, success: i % 2 === 0, metadata: { note: text, nested: { list: [text, 1, null, true] } } }),
    )
    const columns = unnestParams(events)
    const column = (field: (typeof EVENT_FIELDS)[number]) => columns[EVENT_FIELDS.indexOf(field)]
    const [ids, success, description, metadata] = [column('id'), column('success'), column('description'), column('metadata')]
    const { rows } = await client.query<{ id: string; success: boolean; description: string | null; metadata: unknown }>(
      `SELECT id::text, success, description, metadata FROM unnest($1::uuid[], $2::boolean[], $3::text[], $4::jsonb[]) WITH ORDINALITY AS u(id, success, description, metadata, o) ORDER BY o`,
      [ids, success, description, metadata],
    )
    expect(rows.map((row) => row.id)).toEqual(events.map((event) => event.id))
    expect(rows.map((row) => row.success)).toEqual(events.map((event) => event.success))
    expect(rows.map((row) => row.description)).toEqual(events.map((event) => event.description))
    expect(rows.map((row) => row.metadata)).toEqual(events.map((event) => event.metadata))
  })
})
