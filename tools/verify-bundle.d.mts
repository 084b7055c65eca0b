import type { KeyObject } from 'node:crypto'

export declare const BUNDLE_FORMAT: string
export declare const CANONICAL_FORMS: Record<string, (event: Record<string, unknown>) => string>
export declare function verifyInclusion(index: number, size: number, leaf: Buffer | undefined, proof: readonly Buffer[], root: Buffer): boolean
export declare function verifyConsistency(size1: number, size2: number, root1: Buffer, root2: Buffer, proof: readonly Buffer[]): boolean
export declare function canonicalJson(value: unknown): string
export interface BundleFailureInfo {
  reason: 'malformed' | 'bad_signature' | 'forked' | 'unsigned' | 'modified' | 'added' | 'removed' | 'reordered'
  detail: string
  tenant_id?: string
  seq?: number
  tree_size?: number
}
export interface BundleResult {
  ok: boolean
  events: number
  tenants: number
  checkpoints: number
  unproven: number
  failure?: BundleFailureInfo
}
export declare function verifyBundle(
  text: string,
  publicKeys: ReadonlyArray<string | KeyObject>,
  options?: { canonicalForms?: Record<string, (event: never) => string> },
): BundleResult
export declare function describe(result: BundleResult): string
export declare function main(argv: string[]): number
