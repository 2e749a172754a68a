/**
 * verifyBuckets: the seed's `minio-backup.sh verify`, comparing content where `mc diff` compares only
 * name, size and time. For each bucket the source and the backup MinIO are compared object by
 * object (plain-MD5 ETags, else the sha256 our copies and snapshot manifests record, else the bytes
 * hashed); missing, extra and different objects are reported, and any drift is raised through the
 * `notify` hook.
 */
import { proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import { invalidInput } from './failures';
import type { Activities } from '../activities';
import type { VerifyReport } from '../activities/minio';
import { checkBucketList } from './backup-buckets';
import { raiseAlert } from './alerting';
import { QUICK, STREAMING } from './options';

export interface VerifyBucketsInput {
  /** Buckets to verify; default BUCKETS_TO_BACKUP. */
  buckets?: string[];
}

export interface VerifyBucketsResult {
  ok: boolean;
  buckets: VerifyReport[];
}

const planning = proxyActivities<Activities>(QUICK);

export async function verifyBuckets(input: VerifyBucketsInput = {}): Promise<VerifyBucketsResult> {
  // 0. Refuse bad input before any side effect.
  const buckets = checkBucketList('buckets', input?.buckets);

  // 1. Which buckets; the comparison runs where the snapshot manifests are (MINIO_BACKUP_ROOT).
  const target = await planning.describeMinioTarget({ buckets });
  if (!target.backupServer) throw invalidInput('MINIO_BACKUP_ENDPOINT: is not set, so there is no backup MinIO to verify');
  const host = proxyActivities<Activities>(STREAMING(target.backupHostTaskQueue));

  const reports: VerifyReport[] = [];
  for (const bucket of target.buckets) {
    // 2. Source and backup compared by content.
    setCurrentDetails(`**verify** \`${bucket}\` (${reports.length + 1} of ${target.buckets.length})`);
    const report = await host.verifyBucket({ bucket });
    reports.push(report);

    // 3. Drift is an alert (delivery retried; a channel that stays down never fails the run).
    if (!report.ok) {
      const parts = [`${report.missing} missing`, `${report.extra} extra`, `${report.different} different`];
      const examples = [...report.samples.different.map((d) => `${d.key} (${d.reason})`), ...report.samples.missing, ...report.samples.extra].slice(0, 5);
      await raiseAlert(target.backupHostTaskQueue, {
        severity: 'warning',
        condition: `minio-verify:${bucket}`,
        summary: `bucket ${bucket}: the backup MinIO differs from the source: ${parts.join(', ')}${examples.length ? `; e.g. ${examples.join(', ')}` : ''}`,
        details: { bucket, missing: report.missing, extra: report.extra, different: report.different, samples: report.samples },
      });
    }
  }
  const ok = reports.every((r) => r.ok);
  setCurrentDetails(ok ? `**in sync**: ${reports.length} bucket(s)` : `**drift** in ${reports.filter((r) => !r.ok).map((r) => r.bucket).join(', ')}`);
  return { ok, buckets: reports };
}
