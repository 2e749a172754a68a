/**
 * Audit objects off-site, under S3 Object Lock where the bucket has it: each history file and
 * manifest is put with a retention (AUDIT_RETENTION_DAYS, mode AUDIT_LOCK_MODE), so the version
 * written cannot be deleted or overwritten before it ends, not even by the credentials that wrote
 * it (COMPLIANCE; GOVERNANCE lets a holder of s3:BypassGovernanceRetention lift it). Buckets
 * without locking get plain puts (locking can only be turned on when a bucket is created).
 */
import { GetObjectLockConfigurationCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { S3Store } from '../storage/s3-store';
import { classifyObjectStoreError } from '../storage/minio';

export type LockMode = 'COMPLIANCE' | 'GOVERNANCE';

export interface AuditLock {
  mode: LockMode;
  until: Date;
}

/** Whether the bucket was created with Object Lock (a bucket without it answers an error we treat as "no"). */
export async function bucketHasObjectLock(store: S3Store): Promise<boolean> {
  try {
    const r = await store.client.send(new GetObjectLockConfigurationCommand({ Bucket: store.settings.bucket }));
    return r.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
  } catch (error) {
    const e = error as { name?: string; Code?: string };
    if (/ObjectLockConfigurationNotFound|NoSuchObjectLockConfiguration/.test(`${e.name} ${e.Code}`)) return false;
    throw classifyObjectStoreError(error, `${store.settings.endpoint} (${store.location})`);
  }
}

/** The lock an audit object gets now, or undefined when the bucket has none or the retention is 0. */
export async function auditLockFor(store: S3Store, retentionDays: number, mode: LockMode, now = new Date()): Promise<AuditLock | undefined> {
  if (retentionDays <= 0 || !(await bucketHasObjectLock(store))) return undefined;
  return { mode, until: new Date(now.getTime() + retentionDays * 86_400_000) };
}

/** Put an audit object (Content-MD5 is required by S3 for locked puts). Returns its version id. */
export async function putAuditObject(store: S3Store, key: string, body: Buffer, lock: AuditLock | undefined): Promise<string | undefined> {
  try {
    const r = await store.client.send(
      new PutObjectCommand({
        Bucket: store.settings.bucket,
        Key: key,
        Body: body,
        ContentLength: body.length,
        ContentMD5: createHash('md5').update(body).digest('base64'),
        ContentType: key.endsWith('.json') ? 'application/json' : 'application/octet-stream',
        ...(lock ? { ObjectLockMode: lock.mode, ObjectLockRetainUntilDate: lock.until } : {}),
      }),
    );
    return r.VersionId;
  } catch (error) {
    throw classifyObjectStoreError(error, `${store.settings.endpoint} (${store.location})`);
  }
}
