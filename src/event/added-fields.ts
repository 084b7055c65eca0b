/**
 * Validation of the fields added with canonical form auditq.v2: actor_name, targets, changes,
 * producer_id/producer_seq, sealed and subject_index. Same contract as validate.ts: every failing
 * field is reported with its path and a stable rule name, nothing throws, and what is returned is
 * the validator's own copy (objects with their keys sorted, so the canonical form's fast path holds).
 */
import { checkMetadata } from './metadata.js'
import { isAbsent, type FieldEntry } from './normalize.js'
import { ErrorList, describeKey, encodingProblem, joinPath, textProblem, tooLong } from './text.js'
import type { EventTarget, FieldChange } from './types.js'

export const ACTOR_NAME_MAX = 200
export const TARGETS_MAX = 20
export const TARGET_LIMITS = { type: 100, id: 200, name: 200 } as const
export const CHANGES_MAX_FIELDS = 100
export const PRODUCER_ID_MAX = 100
const PRODUCER_ID_PATTERN = /^[A-Za-z0-9._:-]+$/
export const SEALED_MAX_FIELDS = 100
/** A field path: a top-level field, or `metadata.` followed by a dotted key path. */
const SEALED_PATH = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_-]+)*$/
const SEALED_PATH_MAX = 200
/** `aqe1:<subject-key-id>:<base64url(iv ‖ ciphertext ‖ tag)>` */
const SEALED_VALUE = /^aqe1:[A-Za-z0-9._-]{1,128}:[A-Za-z0-9_-]+$/
const SEALED_VALUE_MAX = 16 * 1024
const SUBJECT_INDEX = /^[0-9a-f]{64}$/

export interface AddedFields {
  actor_name: string | null
  targets: EventTarget[] | null
  changes: Record<string, FieldChange> | null
  producer_id: string | null
  producer_seq: number | null
  subject_index: string | null
  sealed: Record<string, string> | null
}

export type AddedFieldEntries = Partial<Record<keyof AddedFields, FieldEntry>>

export function checkAddedFields(f: AddedFieldEntries, errors: ErrorList): AddedFields {
  const producer = checkProducer(f.producer_id, f.producer_seq, errors)
  return {
    actor_name: guarded('actor_name', errors, () => checkActorName(f.actor_name, errors)),
    targets: guarded('targets', errors, () => checkTargets(f.targets, errors)),
    changes: guarded('changes', errors, () => checkChanges(f.changes, errors)),
    producer_id: producer.id,
    producer_seq: producer.seq,
    subject_index: checkSubjectIndex(f.subject_index, errors),
    sealed: guarded('sealed', errors, () => checkSealed(f.sealed, errors)),
  }
}

/** A hostile value (a proxy, a throwing getter) fails its own field, never the whole validation. */
function guarded<T>(field: string, errors: ErrorList, check: () => T | null): T | null {
  try {
    return check()
  } catch {
    errors.add(field, 'unreadable', 'reading it threw an exception')
    return null
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function checkString(value: unknown, path: string, max: number, errors: ErrorList): string | null {
  if (typeof value !== 'string') {
    errors.add(path, 'type', 'must be a string')
    return null
  }
  const problem = textProblem(value, max)
  if (problem) errors.add(path, problem.rule, problem.message)
  return value
}

function checkActorName(entry: FieldEntry | undefined, errors: ErrorList): string | null {
  if (!entry || isAbsent(entry.value)) return null
  return checkString(entry.value, entry.sentAs, ACTOR_NAME_MAX, errors)
}

function checkTargets(entry: FieldEntry | undefined, errors: ErrorList): EventTarget[] | null {
  if (!entry || entry.value === undefined || entry.value === null) return null
  const value = entry.value
  if (!Array.isArray(value)) {
    errors.add('targets', 'type', 'must be an array of {type, id, name?} objects')
    return null
  }
  if (value.length > TARGETS_MAX) {
    errors.add('targets', 'max_items', `must list at most ${TARGETS_MAX} targets; got ${value.length}`)
    return null
  }
  const targets: EventTarget[] = []
  value.forEach((item: unknown, i) => {
    const path = `targets[${i}]`
    if (!isPlainObject(item)) {
      errors.add(path, 'type', 'must be an object {type, id, name?}')
      return
    }
    for (const key of Object.keys(item)) {
      if (!(key in TARGET_LIMITS)) errors.add(joinPath(path, key), 'unknown_field', 'a target has only type, id and name')
    }
    const type = item.type
    const id = item.id
    if (isAbsent(type)) errors.add(`${path}.type`, 'required', 'a target needs a type (e.g. "document")')
    if (isAbsent(id)) errors.add(`${path}.id`, 'required', 'a target needs an id')
    // Keys in sorted order (id, name, type), and `name` only when sent: the canonical form's fast path.
    const target: EventTarget = {
      id: isAbsent(id) ? '' : integerOrString(id, `${path}.id`, TARGET_LIMITS.id, errors),
    } as EventTarget
    if (!isAbsent(item.name)) target.name = checkString(item.name, `${path}.name`, TARGET_LIMITS.name, errors) ?? ''
    target.type = isAbsent(type) ? '' : (checkString(type, `${path}.type`, TARGET_LIMITS.type, errors) ?? '')
    targets.push(target)
  })
  return targets
}

/** Ids that systems send as integers keep their one decimal spelling, as actor_id does. */
function integerOrString(value: unknown, path: string, max: number, errors: ErrorList): string {
  if (Number.isSafeInteger(value)) return String(value)
  return checkString(value, path, max, errors) ?? ''
}

/**
 * `{ field: { before, after } }`. The values are arbitrary JSON, checked and copied by the metadata
 * walk (same size, depth and encoding limits, keys sorted); each entry is stored with both
 * `before` and `after` (null when not sent), so "added" and "cleared" read the same everywhere.
 */
function checkChanges(entry: FieldEntry | undefined, errors: ErrorList): Record<string, FieldChange> | null {
  if (!entry || entry.value === undefined || entry.value === null) return null
  const copied = checkMetadata(entry.value, { root: 'changes', prefix: 'changes' })
  for (const error of copied.errors.items) errors.add(error.field, error.rule, error.message)
  if (copied.errors.items.length > 0) return null
  const fields = Object.keys(copied.value)
  if (fields.length > CHANGES_MAX_FIELDS) {
    errors.add('changes', 'max_fields', `must list at most ${CHANGES_MAX_FIELDS} changed fields; got ${fields.length}`)
    return null
  }
  const changes: Record<string, FieldChange> = {}
  for (const field of fields) {
    const path = joinPath('changes', field)
    const change = copied.value[field]
    if (!isPlainObject(change)) {
      errors.add(path, 'type', 'must be an object {before, after}')
      continue
    }
    const extra = Object.keys(change).filter((key) => key !== 'before' && key !== 'after')
    for (const key of extra) errors.add(joinPath(path, key), 'unknown_field', 'a change has only before and after')
    if (!('before' in change) && !('after' in change)) errors.add(path, 'required', 'a change needs before, after or both')
    Object.defineProperty(changes, field, {
      value: { after: change.after ?? null, before: change.before ?? null },
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return changes
}

function checkProducer(idEntry: FieldEntry | undefined, seqEntry: FieldEntry | undefined, errors: ErrorList): { id: string | null; seq: number | null } {
  const idSent = idEntry !== undefined && !isAbsent(idEntry.value)
  const seqSent = seqEntry !== undefined && seqEntry.value !== undefined && seqEntry.value !== null
  let id: string | null = null
  let seq: number | null = null
  if (idSent) {
    const value = idEntry.value
    if (typeof value !== 'string') errors.add('producer_id', 'type', 'must be a string')
    else if (value.length > PRODUCER_ID_MAX) errors.add('producer_id', 'max_length', tooLong(value, PRODUCER_ID_MAX))
    else if (!PRODUCER_ID_PATTERN.test(value)) {
      const problem = encodingProblem(value)
      errors.add('producer_id', problem?.rule ?? 'pattern', problem?.message ?? 'may contain only letters, digits and . _ : -')
    } else id = value
  }
  if (seqSent) {
    const value = seqEntry.value
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      errors.add('producer_seq', 'positive_integer', `must be a whole number from 1 to ${Number.MAX_SAFE_INTEGER}`)
    } else seq = value
  }
  // Sequence numbers only mean something per producer, and a producer's events are numbered.
  if (idSent && !seqSent) errors.add('producer_seq', 'required_with', 'producer_seq is required when producer_id is sent')
  if (seqSent && !idSent) errors.add('producer_id', 'required_with', 'producer_id is required when producer_seq is sent')
  return { id, seq }
}

function checkSubjectIndex(entry: FieldEntry | undefined, errors: ErrorList): string | null {
  if (!entry || isAbsent(entry.value)) return null
  if (typeof entry.value === 'string' && SUBJECT_INDEX.test(entry.value)) return entry.value
  errors.add('subject_index', 'pattern', 'must be 64 lower-case hex digits (an HMAC-SHA-256)')
  return null
}

function checkSealed(entry: FieldEntry | undefined, errors: ErrorList): Record<string, string> | null {
  if (!entry || entry.value === undefined || entry.value === null) return null
  const value = entry.value
  if (!isPlainObject(value)) {
    errors.add('sealed', 'type', 'must be an object of field path → sealed value')
    return null
  }
  const keys = Object.keys(value).sort()
  if (keys.length > SEALED_MAX_FIELDS) {
    errors.add('sealed', 'max_fields', `must hold at most ${SEALED_MAX_FIELDS} sealed fields; got ${keys.length}`)
    return null
  }
  const sealed: Record<string, string> = {}
  for (const key of keys) {
    const path = joinPath('sealed', key)
    if (key.length > SEALED_PATH_MAX || !SEALED_PATH.test(key)) {
      errors.add(`sealed[${describeKey(key)}]`, 'pattern', 'must be a field path such as ip_address or metadata.email')
      continue
    }
    const sealedValue = value[key]
    if (typeof sealedValue !== 'string' || sealedValue.length > SEALED_VALUE_MAX || !SEALED_VALUE.test(sealedValue)) {
      errors.add(path, 'sealed_value', 'must be aqe1:<key id>:<base64url ciphertext>')
      continue
    }
    Object.defineProperty(sealed, key, { value: sealedValue, enumerable: true, writable: true, configurable: true })
  }
  return sealed
}
