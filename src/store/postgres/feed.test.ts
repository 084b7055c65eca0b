import { afterAll, describe } from 'vitest'
import { describeFeedContract } from '../../../test/contracts/feed.contract.js'
import { dropSchemas, POSTGRES_URL, postgresAvailable, testPartitioning, uniqueSchema } from '../../../test/support/services.js'
import { createPostgresStore } from './postgres-store.js'

const hasPostgres = await postgresAvailable()
const schemas: string[] = []
afterAll(() => dropSchemas(schemas))

describe.skipIf(!hasPostgres)('postgres', () => {
  describeFeedContract('postgres', async () => {
    const schema = uniqueSchema('feed')
    schemas.push(schema)
    const store = await createPostgresStore({ ...testPartitioning(), connectionString: POSTGRES_URL, schema })
    await store.migrate()
    return store
  })
})
