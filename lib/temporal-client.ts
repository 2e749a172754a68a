/**
 * A Temporal client for activities that read Temporal itself (the audit export lists closed runs and
 * fetches their histories). Connected on first use, once per process, with the identity
 * `lifeboat-worker@<host>`; the composition root closes it when the workers stop.
 */
import { hostname } from 'node:os';
import { Client, Connection } from '@temporalio/client';
import type { Config } from './config/load';
import { temporalConnectionOptions } from './config/temporal';
import { lifeboatDataConverter } from './codec/data-converter';

/** `lifeboat-worker@<host>`: the identity Temporal records on every task a worker completes and every call it makes (audit trail). */
export function workerIdentity(): string {
  return `lifeboat-worker@${hostname()}`;
}

export interface TemporalAccess {
  client(): Promise<Client>;
  close(): Promise<void>;
}

export function lazyTemporalClient(config: Config): TemporalAccess {
  let connecting: Promise<{ connection: Connection; client: Client }> | undefined;
  return {
    async client() {
      connecting ??= Connection.connect(temporalConnectionOptions(config)).then((connection) => ({
        connection,
        client: new Client({ connection, namespace: config.temporal.namespace, identity: workerIdentity(), dataConverter: lifeboatDataConverter(config) }),
      }));
      connecting.catch(() => (connecting = undefined));
      return (await connecting).client;
    },
    async close() {
      const open = connecting;
      connecting = undefined;
      if (open) await (await open.catch(() => undefined))?.connection.close();
    },
  };
}
