/**
 * Verification records (`<key>.verification.json` beside each artifact) read through a Store
 * (monitoring, retention). The record's shape, parsing and merging live in lib/verify/record.ts.
 */
import { getBuffer, type Store } from '../storage/store';
import { VERIFICATION_SUFFIX, type VerificationResult } from '../verify/artifact';
import { parseVerificationRecord } from '../verify/record';

export { VERIFICATION_SUFFIX };

/** The key of `key`'s verification record. */
export function verificationKey(key: string): string {
  return `${key}${VERIFICATION_SUFFIX}`;
}

/** The record, copy states filled in; undefined when there is none or it does not parse (an unreachable store still throws). */
export async function readStoredVerification(store: Store, key: string): Promise<VerificationResult | undefined> {
  if (!(await store.stat(verificationKey(key)))) return undefined;
  try {
    return parseVerificationRecord((await getBuffer(store, verificationKey(key))).toString('utf8'));
  } catch {
    return undefined;
  }
}
