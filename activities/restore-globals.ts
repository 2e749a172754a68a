/**
 * Globals restore (backup host): one activity that fetches a verified copy of a globals artifact
 * (`<tier>/globals_<stamp>.sql.<enc>`), decodes it in memory (a few KB: roles and tablespaces) and
 * applies it object by object to the target cluster (lib/restore/globals.ts). The report names
 * roles and tablespaces and their outcome; the script (password hashes) never leaves the activity.
 */
import { Context } from '@temporalio/activity';
import { Writable } from 'node:stream';
import { createReadStream } from 'node:fs';
import type { Deps } from '../lib/deps';
import { InputInvalid } from '../lib/errors';
import { decodeStream } from '../lib/pipeline/codec';
import { ensureLocalCopy, type CopySource } from '../lib/restore/fetch';
import { applyGlobals, parseGlobals, type GlobalsReport } from '../lib/restore/globals';
import { targetDb, type PostgresTarget } from '../lib/restore/load';
import { locateBackup } from '../lib/restore/locate';
import { withHeartbeats } from './heartbeat';

interface GlobalsHeartbeat {
  stage: string;
  created?: { roles: string[]; tablespaces: string[] };
}

export interface RestoreGlobalsActivityResult extends GlobalsReport {
  key: string;
  source: 'local' | 'remote';
  /** host:port of the cluster the globals went into. */
  server: string;
}

export function createRestoreGlobalsActivities({ config, logger, stores, keys: keyRing }: Pick<Deps, 'config' | 'logger' | 'stores' | 'keys'>) {
  return {
    /** Refuses (InputInvalid) anything but a globals artifact; `target`: another server, address only. */
    async applyGlobalsBackup(input: { backup: string; source?: CopySource; target?: PostgresTarget }): Promise<RestoreGlobalsActivityResult> {
      const found = await locateBackup(input.backup, stores.local, stores.remote);
      if (found.metadata.kind !== 'globals') {
        throw new InputInvalid('backup', `${found.key} is a ${found.metadata.kind} backup, not globals`, 'name a globals_<stamp> artifact from `lifeboat restore --list`');
      }
      const metadata = found.metadata;
      const db = targetDb(config.db, input.target);
      // What an earlier attempt created: a retry reports it as created and still grants its memberships.
      const earlier = (Context.current().info.heartbeatDetails as GlobalsHeartbeat | undefined)?.created;
      return withHeartbeats<GlobalsHeartbeat, RestoreGlobalsActivityResult>({ stage: 'fetching', ...(earlier ? { created: earlier } : {}) }, async (beats) => {
        let created = earlier;
        const copy = await ensureLocalCopy(config.backupRoot, metadata, stores.remote, () => beats.update({ stage: 'fetching' }), input.source ?? 'auto');
        const keys = metadata.encryption.enabled ? await keyRing.privateKeys() : undefined;
        const chunks: Buffer[] = [];
        const sink = new Writable({ write(chunk: Buffer, _enc, cb) { chunks.push(chunk); cb(); } });
        await decodeStream(createReadStream(copy.path), { compression: metadata.compression.algorithm, encrypted: metadata.encryption.enabled }, keys, sink);
        const script = parseGlobals(Buffer.concat(chunks).toString('utf8'));
        const report = await applyGlobals(db, script, (what) => beats.update({ stage: `applying ${what}`, ...(created ? { created } : {}) }), {
          ...(earlier ? { created: earlier } : {}),
          onCreated: (now) => {
            // Sent at once (the SDK throttles to one per 3 s): a worker dying right after a commit
            // leaves at most that window in which a retry would call the object "exists".
            created = now;
            const details: GlobalsHeartbeat = { stage: 'applying', created: now };
            beats.update(details);
            Context.current().heartbeat(details);
          },
        });
        const count = (state: string): number => report.roles.filter((r) => r.state === state).length;
        logger.info({ key: found.key, server: `${db.host}:${db.port}`, created: count('created'), skipped: count('skipped'), failed: count('failed') }, 'globals restored');
        return { key: found.key, source: copy.source, server: `${db.host}:${db.port}`, ...report };
      });
    },
  };
}
