/**
 * Checks an OCSF event against the schema definitions vendored in test/fixtures/ocsf/, resolved
 * the way the OCSF schema compiler does: a class extends its category, which extends base_event;
 * `$include`d `includes/*` files add attributes; an object extends its parents up to `object`.
 * Returns every problem found (empty = valid).
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/ocsf')

interface AttributeDef {
  requirement?: string
  type?: string
  profile?: string | null
  enum?: Record<string, unknown>
}
interface Definition {
  name: string
  uid?: number
  extends?: string
  attributes: Record<string, AttributeDef> & { $include?: string[] }
  constraints?: { at_least_one?: string[] }
}
interface DictionaryEntry {
  type: string
  is_array?: boolean
}

const read = <T>(file: string): T => JSON.parse(readFileSync(path.join(ROOT, file), 'utf8')) as T
const dictionary = read<{ attributes: Record<string, DictionaryEntry>; types: { attributes: Record<string, { type?: string; regex?: string }> } }>('dictionary.json')

const CLASS_FILES: Record<string, string> = {
  base_event: 'events/base_event.json',
  application: 'events/application/application.json',
  api_activity: 'events/application/api_activity.json',
  iam: 'events/iam/iam.json',
  authentication: 'events/iam/authentication.json',
  account_change: 'events/iam/account_change.json',
}
const COMPUTED = new Set(['class_uid', 'category_uid'])
/** categories.json's numbers for the two categories used. */
const CATEGORY_UIDS: Record<string, number> = { application: 6, iam: 3 }

interface Resolved {
  attributes: Record<string, AttributeDef>
  constraints: string[][]
  enums: Record<string, Record<string, unknown>>
}

function resolve(chain: Definition[]): Resolved {
  const resolved: Resolved = { attributes: {}, constraints: [], enums: {} }
  // Parents first, so a child's settings override its parents'.
  for (const definition of [...chain].reverse()) {
    const { $include, ...own } = definition.attributes
    for (const include of ($include ?? []) as string[]) {
      if (!include.startsWith('includes/')) continue // profiles: optional unless applied; auditq applies none
      const included = read<{ attributes: Record<string, AttributeDef> }>(include)
      for (const [name, def] of Object.entries(included.attributes)) merge(resolved, name, def)
    }
    for (const [name, def] of Object.entries(own)) merge(resolved, name, def as AttributeDef)
    // A definition's constraints replace its parents' (as the schema compiler does).
    if (definition.constraints?.at_least_one) resolved.constraints = [definition.constraints.at_least_one]
  }
  return resolved
}

function merge(resolved: Resolved, name: string, def: AttributeDef): void {
  resolved.attributes[name] = { ...resolved.attributes[name], ...def }
  if (def.enum) resolved.enums[name] = def.enum
}

export function classDefinition(className: string): Resolved & { classUid: number; categoryUid: number } {
  const chain: Definition[] = []
  for (let name: string | undefined = className; name; ) {
    const definition: Definition = read<Definition>(CLASS_FILES[name]!)
    chain.push(definition)
    name = definition.extends
  }
  const category = chain[1]!.name
  const categoryUid = CATEGORY_UIDS[category]!
  return { ...resolve(chain), classUid: categoryUid * 1000 + chain[0]!.uid!, categoryUid }
}

function objectDefinition(objectName: string): Resolved {
  const chain: Definition[] = []
  for (let name: string | undefined = objectName; name; ) {
    const definition: Definition = read<Definition>(`objects/${name}.json`)
    chain.push(definition)
    name = definition.extends
  }
  return resolve(chain)
}

/** Problems with `event` as an instance of `className` (api_activity, authentication, account_change). */
export function validateOcsf(className: string, event: Record<string, unknown>): string[] {
  const problems: string[] = []
  const cls = classDefinition(className)
  checkObject('', cls, event, problems)
  if (event.class_uid !== cls.classUid) problems.push(`class_uid: ${String(event.class_uid)}, the schema says ${cls.classUid}`)
  if (event.category_uid !== cls.categoryUid) problems.push(`category_uid: ${String(event.category_uid)}, the schema says ${cls.categoryUid}`)
  if (event.type_uid !== cls.classUid * 100 + (event.activity_id as number)) problems.push('type_uid: not class_uid * 100 + activity_id')
  return problems
}

function checkObject(at: string, definition: Resolved, value: Record<string, unknown>, problems: string[]): void {
  for (const [name, def] of Object.entries(definition.attributes)) {
    if (def.requirement === 'required' && (value[name] === undefined || value[name] === null)) problems.push(`${at}${name}: required, missing`)
  }
  for (const group of definition.constraints) {
    if (!group.some((name) => value[name] !== undefined && value[name] !== null)) problems.push(`${at || '(event)'}: needs at least one of ${group.join(', ')}`)
  }
  for (const [name, item] of Object.entries(value)) {
    const def = definition.attributes[name]
    if (!def) {
      problems.push(`${at}${name}: not an attribute of this class or object`)
      continue
    }
    const entry = dictionary.attributes[name]
    if (!entry) {
      problems.push(`${at}${name}: not in the dictionary extract (add its entry)`)
      continue
    }
    const type = def.type ?? entry.type
    const enumValues = definition.enums[name]
    // class_uid and category_uid are checked against the computed ids instead (the compiler fills their enums).
    if (enumValues && !COMPUTED.has(name) && !(String(item) in enumValues) && !(name === 'activity_id' && (item === 0 || item === 99))) {
      problems.push(`${at}${name}: ${String(item)} is not one of its enum values`)
    }
    if (entry.is_array) {
      if (!Array.isArray(item)) problems.push(`${at}${name}: must be an array`)
      else item.forEach((element, i) => checkValue(`${at}${name}[${i}]`, type, element, problems))
    } else {
      checkValue(`${at}${name}`, type, item, problems)
    }
  }
}

function checkValue(at: string, type: string, value: unknown, problems: string[]): void {
  const primitive = baseType(type)
  const fail = (what: string): void => {
    problems.push(`${at}: ${JSON.stringify(value)} is not ${what} (${type})`)
  }
  if (primitive === 'string_t') {
    if (typeof value !== 'string') return fail('a string')
    const regex = dictionary.types.attributes[type]?.regex
    if (regex && !new RegExp(regex).test(value)) fail(`matching the ${type} pattern`)
  } else if (primitive === 'integer_t' || primitive === 'long_t') {
    if (!Number.isSafeInteger(value)) fail('an integer')
  } else if (primitive === 'boolean_t') {
    if (typeof value !== 'boolean') fail('a boolean')
  } else if (primitive === 'json_t') {
    // any JSON value
  } else if (type === 'object') {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('an object')
  } else {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('an object')
    checkObject(`${at}.`, objectDefinition(type), value as Record<string, unknown>, problems)
  }
}

/** A dictionary type down to its primitive (`timestamp_t` → `long_t`, `ip_t` → `string_t`); an object name stays as it is. */
function baseType(type: string): string {
  const seen = new Set<string>()
  let current = type
  while (dictionary.types.attributes[current]?.type && !seen.has(current)) {
    seen.add(current)
    current = dictionary.types.attributes[current]!.type!
  }
  return current
}
