#!/usr/bin/env node
import { Command, CommanderError } from 'commander'
import { isAuditqError } from '../errors.js'
import { packageVersion } from '../version.js'
import { registerCleanup } from './cleanup.js'
import { registerCompleteness } from './completeness.js'
import { registerDlq } from './dlq.js'
import { registerErase } from './erase.js'
import { registerImport } from './import.js'
import { registerCheckpoint, registerKeygen, registerVerify } from './integrity.js'
import { registerKeys } from './keys.js'
import { registerHold } from './hold.js'
import { registerMigrate } from './migrate.js'
import { registerExport, registerQuery } from './query.js'
import { registerQueue } from './queue.js'
import { registerReport } from './report.js'
import { registerSearch } from './search.js'
import { registerSend } from './send.js'
import { registerServe } from './serve.js'
import { registerStatus } from './status.js'
import { registerTail } from './tail.js'
import { registerVerifyBundle } from './verify-bundle.js'
import { registerStreams } from './streams.js'
import { stdoutReaderGone, watchStdout } from './stdout.js'
import { registerWorker } from './worker.js'

const program = new Command()
  .name('auditq')
  .description('Fast, lossless, tamper-evident audit logging. Embedded store by default; PostgreSQL with --database-url.')
  .option('--database-url <url>', 'PostgreSQL connection string (env AUDITQ_DATABASE_URL); omit for the embedded store')
  .option('--redis-url <url>', 'Redis for queue mode (env AUDITQ_REDIS_URL); omit for direct mode')
  .option('--data-dir <dir>', 'embedded store directory (env AUDITQ_DATA_DIR, default ./.auditq)')
  .option('--log-level <level>', 'fatal | error | warn | info | debug | trace | silent (env AUDITQ_LOG_LEVEL)')
  .option('--log-format <format>', 'auto (pretty on a terminal, else JSON) | json | pretty (env AUDITQ_LOG_FORMAT)')
  .version(packageVersion(), '-V, --version', 'print the installed auditq version')
  .showHelpAfterError()
  .exitOverride()

registerServe(program)
registerMigrate(program)
registerSend(program)
registerQuery(program)
registerExport(program)
registerReport(program)
registerWorker(program)
registerDlq(program)
registerQueue(program)
registerVerify(program)
registerCheckpoint(program)
registerKeygen(program)
registerCleanup(program)
registerStatus(program)
registerKeys(program)
registerHold(program)
registerStreams(program)
registerImport(program)
registerErase(program)
registerCompleteness(program)
registerSearch(program)
registerTail(program)
registerVerifyBundle(program)

watchStdout()

try {
  await program.parseAsync(process.argv)
} catch (error) {
  if (stdoutReaderGone() && (error as NodeJS.ErrnoException).code === 'EPIPE') {
    process.exitCode = 0
  } else if (error instanceof CommanderError) {
    // --help and --version exit through here with code 0; usage errors were already printed.
    process.exitCode = error.exitCode === 0 ? 0 : 2
  } else if (isAuditqError(error)) {
    process.stderr.write(`auditq: ${error.message} [${error.code}]\n`)
    process.exitCode = error.code === 'AUDITQ_BAD_REQUEST' || error.code === 'AUDITQ_CONFIG' || error.code === 'AUDITQ_VALIDATION' ? 2 : 1
  } else {
    process.stderr.write(`auditq: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  }
}
