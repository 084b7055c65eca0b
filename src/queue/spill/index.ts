export {
  SPILL_DEFAULTS,
  SpillJournal,
  type CorruptRange,
  type Deliver,
  type ReplayReport,
  type SpillJournalOptions,
  type SpillStats,
} from './spill-journal.js'
export { SpillFullError, SpillWriteFailedError } from './errors.js'
