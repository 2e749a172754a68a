/** The audit manifest chain (lib/audit/manifest.ts): pure checks of a trail snapshot. */
import { describe, expect, it } from 'vitest';
import { checkAuditTrail, historyFileKey, manifestKey, nextManifest, serializeManifest, sha256Hex, type AuditCursor, type AuditFileEntry, type AuditTrailSnapshot } from '../../lib/audit/manifest';

const file = (n: number): AuditFileEntry => {
  const key = historyFileKey({ workflowType: 'health', workflowId: `wf/${n}`, runId: `run-${n}`, closeTime: new Date(Date.UTC(2026, 0, n)) }, true);
  return { key, sha256: sha256Hex(`body-${n}`), bytes: 6, workflowType: 'health', workflowId: `wf/${n}`, runId: `run-${n}`, closeTime: new Date(Date.UTC(2026, 0, n)).toISOString(), status: 'COMPLETED', events: 11 };
};

/** A trail of `exports` manifests with two files each, as stored. */
function trail(exports: number): AuditTrailSnapshot {
  const snapshot: AuditTrailSnapshot = { manifests: [], files: new Map() };
  let head: AuditCursor | undefined;
  for (let i = 0; i < exports; i++) {
    const files = [file(2 * i + 1), file(2 * i + 2)];
    for (const f of files) snapshot.files.set(f.key, f.sha256);
    const m = nextManifest(head, { window: { from: `${i}`, until: `${i + 1}` }, exportedAt: 'now', exporter: { workflowId: 'x', runId: 'y' }, files });
    const bytes = serializeManifest(m);
    const key = manifestKey(m.sequence);
    snapshot.manifests.push({ key, sha256: sha256Hex(bytes), manifest: m });
    head = { sequence: m.sequence, manifest: key, sha256: sha256Hex(bytes), until: m.window.until };
  }
  snapshot.cursor = head;
  return snapshot;
}

const problems = (t: AuditTrailSnapshot): string[] => checkAuditTrail(t).problems.map((p) => `${p.kind} ${p.key}`);

describe('audit manifest chain', () => {
  it('names history files by close date, type, id and run (ids made path-safe)', () => {
    expect(file(3).key).toBe('audit/2026-01-03/health/wf_3__run-3.json.zst.gpg');
    expect(manifestKey(12)).toBe('audit/manifests/manifest-000012.json');
  });

  it('an intact trail passes, the first manifest has no previous', () => {
    const t = trail(3);
    expect(checkAuditTrail(t)).toEqual({ manifests: 3, files: 6, problems: [] });
    expect(t.manifests[0]!.manifest!.previous).toBeNull();
    expect(t.manifests[2]!.manifest!.previous?.key).toBe(manifestKey(2));
  });

  it('names a changed, a missing and an extra history file', () => {
    const t = trail(2);
    const [a, b] = [...t.files.keys()];
    t.files.set(a!, sha256Hex('tampered'));
    t.files.delete(b!);
    t.files.set('audit/2026-02-01/health/x__y.json.zst.gpg', sha256Hex('planted'));
    expect(problems(t).sort()).toEqual([`changed ${a}`, 'extra audit/2026-02-01/health/x__y.json.zst.gpg', `missing ${b}`]);
  });

  it('a changed manifest breaks the chain at the next one; a removed one leaves a gap; a dropped head disagrees with the cursor', () => {
    const edited = trail(3);
    edited.manifests[0]!.sha256 = sha256Hex('edited');
    expect(problems(edited)).toEqual([`changed ${manifestKey(1)}`]);

    const gap = trail(3);
    gap.manifests.splice(1, 1);
    expect(problems(gap)).toContain(`chain ${manifestKey(3)}`);

    const dropped = trail(3);
    dropped.manifests.pop();
    expect(problems(dropped)).toContain(`chain ${manifestKey(3)}`);
  });

  it('an unreadable manifest is named', () => {
    const t = trail(1);
    t.manifests[0]!.manifest = undefined;
    expect(problems(t)).toContain(`chain ${manifestKey(1)}`);
  });
});
