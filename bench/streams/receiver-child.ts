/** Child process entry of `ChildReceiver`: one `Receiver`, driven over IPC. */
import { Receiver } from './receiver.js'

const receiver = new Receiver()
await receiver.start()
process.send!({ port: receiver.port })
process.on('message', async (request: { id: number; op: 'up' | 'down' | 'report' | 'close' }) => {
  if (request.op === 'up' || request.op === 'down') await receiver.setUp(request.op === 'up')
  if (request.op === 'report') return void process.send!({ id: request.id, report: await receiver.report() })
  if (request.op === 'close') {
    await receiver.close()
    process.send!({ id: request.id }, () => process.exit(0))
    return
  }
  process.send!({ id: request.id })
})
