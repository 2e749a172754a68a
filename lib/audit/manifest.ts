/**
 * The audit trail's manifests: one per export, naming every history file it wrote (sha256 of the
 * stored bytes, size, the run it holds) and the sha256 of the previous manifest's bytes, so the
 * manifests form a hash chain from the first export. Changing, removing or adding a history file,
 * or editing, dropping or inserting a manifest, breaks the chain or a file's hash, and
 * `checkAuditTrail` names it. Pure: hashes are computed by the caller (lib/audit/verify.ts).
 */
import { createHash } from 'node:crypto';
import { AUDIT_DIR } from '../catalog/layout';

export const MANIFEST_FORMAT = 'lifeboat-audit-manifest/1';
export const MANIFESTS_DIR = `${AUDIT_DIR}/manifests`;
export const CURSOR_KEY = `${AUDIT_DIR}/cursor.json`;
const MANIFEST_PATTERN = /^audit\/manifests\/manifest-(\d{6})\.json$/;
/** History files: `audit/<YYYY-MM-DD>/<workflowType>/<workflowId>__<runId>.json.zst[.gpg]`. */
const HISTORY_PATTERN = /^audit\/\d{4}-\d{2}-\d{2}\/[^/]+\/[^/]+__[^/]+\.json\.zst(\.gpg)?$/;

/** One closed run's exported history. */
export interface AuditFileEntry {
  key: string;
  /** sha256 of the stored (compressed, encrypted) bytes. */
  sha256: string;
  bytes: number;
  workflowType: string;
  workflowId: string;
  runId: string;
  /** ISO time the run closed, and how (COMPLETED, FAILED, ...). */
  closeTime: string;
  status: string;
  events: number;
}

export interface AuditManifest {
  format: typeof MANIFEST_FORMAT;
  /** 1 for the first export, +1 for each next one. */
  sequence: number;
  /** The previous manifest's key and the sha256 of its bytes; null for the first. */
  previous: { key: string; sha256: string } | null;
  /** Runs closed in (from, until] are in this export; the next one starts at `until`. */
  window: { from: string; until: string };
  exportedAt: string;
  /** The exportAuditTrail run that wrote it. */
  exporter: { workflowId: string; runId: string };
  files: AuditFileEntry[];
}

/** Where the next export starts: the newest manifest (also readable from the chain itself). */
export interface AuditCursor {
  sequence: number;
  manifest: string;
  sha256: string;
  until: string;
}

export const sha256Hex = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

export function manifestKey(sequence: number): string {
  return `${MANIFESTS_DIR}/manifest-${String(sequence).padStart(6, '0')}.json`;
}

export function manifestSequence(key: string): number | undefined {
  const m = MANIFEST_PATTERN.exec(key);
  return m ? Number(m[1]) : undefined;
}

export const isHistoryKey = (key: string): boolean => HISTORY_PATTERN.test(key);

/** A name part made safe for a path (workflow ids are free text). */
const safe = (part: string): string => part.replace(/[^A-Za-z0-9._@:=+-]/g, '_');

export function historyFileKey(run: { workflowType: string; workflowId: string; runId: string; closeTime: Date }, encrypted: boolean): string {
  const day = run.closeTime.toISOString().slice(0, 10);
  return `${AUDIT_DIR}/${day}/${safe(run.workflowType)}/${safe(run.workflowId)}__${safe(run.runId)}.json.zst${encrypted ? '.gpg' : ''}`;
}

/** The manifest's stored bytes (their sha256 is what the next manifest chains to). */
export function serializeManifest(manifest: AuditManifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
}

/** The next manifest after `head` (none: the first). */
export function nextManifest(head: AuditCursor | undefined, fields: Omit<AuditManifest, 'format' | 'sequence' | 'previous'>): AuditManifest {
  return { format: MANIFEST_FORMAT, sequence: (head?.sequence ?? 0) + 1, previous: head ? { key: head.manifest, sha256: head.sha256 } : null, ...fields };
}

export function parseManifest(bytes: Buffer): AuditManifest | undefined {
  try {
    const m = JSON.parse(bytes.toString('utf8')) as AuditManifest;
    return m.format === MANIFEST_FORMAT && Number.isInteger(m.sequence) && Array.isArray(m.files) ? m : undefined;
  } catch {
    return undefined;
  }
}

export interface AuditProblem {
  kind: 'missing' | 'changed' | 'extra' | 'chain';
  key: string;
  detail: string;
}

export interface AuditTrailSnapshot {
  /** Every manifest found, with the sha256 of its bytes. */
  manifests: { key: string; sha256: string; manifest: AuditManifest | undefined }[];
  /** Every other object under audit/ with the sha256 of its bytes (cursor excluded). */
  files: Map<string, string>;
  cursor?: AuditCursor;
}

export interface AuditCheck {
  manifests: number;
  files: number;
  problems: AuditProblem[];
}

/** Walk the chain from the first manifest; every listed file must be there with its hash, nothing else may be. */
export function checkAuditTrail(trail: AuditTrailSnapshot): AuditCheck {
  const problems: AuditProblem[] = [];
  const ordered = [...trail.manifests].sort((a, b) => (manifestSequence(a.key) ?? 0) - (manifestSequence(b.key) ?? 0));
  const listed = new Set<string>();
  let previous: { key: string; sha256: string } | undefined;
  ordered.forEach((entry, index) => {
    const expected = index + 1;
    const sequence = manifestSequence(entry.key);
    const m = entry.manifest;
    if (sequence !== expected) problems.push({ kind: 'chain', key: entry.key, detail: `manifest ${expected} is missing before it` });
    if (!m) {
      problems.push({ kind: 'chain', key: entry.key, detail: 'is not a readable audit manifest' });
    } else {
      if (m.sequence !== sequence) problems.push({ kind: 'chain', key: entry.key, detail: `says it is manifest ${m.sequence}` });
      if (!previous && m.previous !== null) problems.push({ kind: 'chain', key: entry.key, detail: `chains to ${m.previous.key}, which is not there` });
      if (previous && (m.previous?.key !== previous.key || m.previous.sha256 !== previous.sha256)) {
        problems.push({ kind: 'changed', key: previous.key, detail: `its sha256 ${previous.sha256.slice(0, 12)}... is not the ${m.previous?.sha256.slice(0, 12) ?? 'none'}... that ${entry.key} records` });
      }
      for (const f of m.files) {
        listed.add(f.key);
        const actual = trail.files.get(f.key);
        if (actual === undefined) problems.push({ kind: 'missing', key: f.key, detail: `listed in ${entry.key} (${f.workflowType} ${f.workflowId})` });
        else if (actual !== f.sha256) problems.push({ kind: 'changed', key: f.key, detail: `sha256 ${actual.slice(0, 12)}... is not the ${f.sha256.slice(0, 12)}... of ${entry.key}` });
      }
    }
    previous = { key: entry.key, sha256: entry.sha256 };
  });
  const head = ordered.at(-1);
  if (trail.cursor && (!head || trail.cursor.manifest !== head.key || trail.cursor.sha256 !== head.sha256)) {
    problems.push({ kind: 'chain', key: trail.cursor.manifest, detail: `the cursor names manifest ${trail.cursor.sequence} (sha256 ${trail.cursor.sha256.slice(0, 12)}...), the chain ends at ${head?.key ?? 'nothing'}` });
  }
  for (const key of [...trail.files.keys()].sort()) {
    if (!listed.has(key)) problems.push({ kind: 'extra', key, detail: 'is in no manifest' });
  }
  return { manifests: ordered.length, files: listed.size, problems };
}
