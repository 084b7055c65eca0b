export {
  SPILL_DEFAULTS,
  SpillJournal,
  type CorruptRange,
  type Deliver,
  type ReplayReport,
  type SpillJournalOptions,
  type SpillFault,
  type SpillStats,
} from './spill-journal.js'
export { errnoOf, SpillFullError, SpillWriteFailedError } from './errors.js'
