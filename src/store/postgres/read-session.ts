/**
 * Helpers for reads on the PostgreSQL read pool: a cursor read in bounded fetches, and cancelling
 * a connection's running statement when the caller goes away.
 */
import { connect } from 'node:net'
import type pg from 'pg'

let cursorNumber = 0

/**
 * Streams `text` through a SQL cursor (DECLARE … FETCH), `chunkRows` at a time, inside the
 * transaction already open on `client`. Each FETCH is a statement of its own, so the read pool's
 * `statement_timeout` bounds every fetch, not the whole read: with a protocol-level portal
 * (pg-cursor) the timeout ran from the first fetch to the last, cutting long exports short, and a
 * quiet client counted against it.
 */
export async function* fetchRows<T extends pg.QueryResultRow>(
  client: pg.PoolClient,
  text: string,
  values: unknown[],
  chunkRows: number,
): AsyncGenerator<T> {
  const name = `auditq_cursor_${(cursorNumber = (cursorNumber + 1) % 1_000_000)}`
  await client.query(`DECLARE ${name} NO SCROLL CURSOR FOR ${text}`, values)
  let open = true
  try {
    for (;;) {
      const { rows } = await client.query<T>(`FETCH FORWARD ${chunkRows} FROM ${name}`)
      yield* rows
      if (rows.length < chunkRows) break
    }
    await client.query(`CLOSE ${name}`)
    open = false
  } finally {
    // Stopped early (a consumer that left, a failure): the caller's transaction end closes it too,
    // but a cursor left open would hold its snapshot's resources until then.
    if (open) await client.query(`CLOSE ${name}`).catch(() => undefined)
  }
}

/** The fields node-postgres keeps of a connection that a cancel request needs. */
interface Cancellable {
  processID: number | null
  secretKey: number | null
  host: string
  port: number
}

/**
 * Asks the server to cancel whatever statement `client` is running, with the protocol's cancel
 * request on a connection of its own (the postmaster answers it before authentication, so it
 * takes no connection slot and no credentials). The statement then fails with 57014 on `client`.
 * A request that arrives between statements is ignored by the server. Never throws.
 */
export function cancelRunningStatement(client: pg.PoolClient): Promise<void> {
  const { processID, secretKey, host, port } = client as unknown as Cancellable
  if (processID === null || secretKey === null) return Promise.resolve()
  return new Promise((resolve) => {
    const socket = host.startsWith('/') ? connect(`${host}/.s.PGSQL.${port}`) : connect(port, host)
    const done = () => {
      socket.destroy()
      resolve()
    }
    socket.setTimeout(5_000, done)
    socket.once('error', done)
    socket.once('close', done)
    socket.once('connect', () => {
      const packet = Buffer.alloc(16)
      packet.writeInt32BE(16, 0)
      // The CancelRequest code: 1234 in the high 16 bits, 5678 in the low.
      packet.writeInt32BE(80877102, 4)
      packet.writeInt32BE(processID, 8)
      packet.writeInt32BE(secretKey, 12)
      socket.end(packet)
    })
  })
}
