/**
 * `lifeboat audit verify`: read one copy of the audit trail (BACKUP_ROOT or S3_BUCKET) and check
 * it with checkAuditTrail: the manifest chain from the first export, every file's sha256, nothing
 * missing and nothing extra. Needs no key: hashes are of the stored (encrypted) bytes.
 */
import { AUDIT_PREFIX } from '../catalog/layout';
import { getBuffer, listAll, type Store } from '../storage/store';
import { checkAuditTrail, CURSOR_KEY, manifestSequence, parseManifest, sha256Hex, type AuditCheck, type AuditCursor, type AuditTrailSnapshot } from './manifest';

export async function snapshotAuditTrail(store: Store): Promise<AuditTrailSnapshot> {
  const trail: AuditTrailSnapshot = { manifests: [], files: new Map() };
  for (const { key } of await listAll(store, AUDIT_PREFIX)) {
    const bytes = await getBuffer(store, key);
    if (key === CURSOR_KEY) {
      try {
        trail.cursor = JSON.parse(bytes.toString('utf8')) as AuditCursor;
      } catch {
        trail.files.set(key, sha256Hex(bytes));
      }
    } else if (manifestSequence(key) !== undefined) {
      trail.manifests.push({ key, sha256: sha256Hex(bytes), manifest: parseManifest(bytes) });
    } else {
      trail.files.set(key, sha256Hex(bytes));
    }
  }
  return trail;
}

export async function verifyAuditTrail(store: Store): Promise<AuditCheck & { location: string }> {
  return { location: store.location, ...checkAuditTrail(await snapshotAuditTrail(store)) };
}
