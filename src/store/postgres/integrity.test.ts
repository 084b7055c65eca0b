import pg from 'pg'
import { describe } from 'vitest'
import { describeIntegrityContract } from '../../integrity/integrity.contract.js'
import { POSTGRES_URL, postgresAvailable, uniqueSchema } from '../../../test/support/services.js'
import { createPostgresStore } from './postgres-store.js'

const hasPostgres = await postgresAvailable()

async function withClient(schema: string, fn: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` })
  await client.connect()
  try {
    await fn(client)
  } finally {
    await client.end()
  }
}

describe.skipIf(!hasPostgres)('postgres', () => {
  describeIntegrityContract('postgres', async () => {
    const schema = uniqueSchema('integ')
    const store = await createPostgresStore({ connectionString: POSTGRES_URL, schema })
    await store.migrate()
    return {
      store,
      // The owner/superuser path an attacker with database access would take: replica mode skips
      // ordinary triggers, so the append-only guard does not fire.
      tamper: (statements) =>
        withClient(schema, async (client) => {
          await client.query('SET session_replication_role = replica')
          for (const statement of statements) await client.query(statement)
        }),
      plain: (statement) => withClient(schema, async (client) => void (await client.query(statement))),
      dispose: async () => {
        await store.close()
        await withClient('public', async (client) => void (await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)))
      },
    }
  })
})
