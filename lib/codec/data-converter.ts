/**
 * The data converter of every Lifeboat client and worker when payload encryption is on
 * (LIFEBOAT_PAYLOAD_KEY): the AES-GCM codec and the failure converter that moves messages into the
 * encrypted attributes. Undefined when the codec is off, so callers pass Temporal's default.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DataConverter } from '@temporalio/common';
import type { Config } from '../config/load';
import { parsePayloadKeys, type PayloadKeys } from './keys';
import { AesGcmPayloadCodec } from './payload-codec';

/**
 * The compiled failure converter (Temporal `require`s it, and bundles it into the workflow code).
 * Running from TypeScript sources (tests), the built copy in dist/ is used: run the build first.
 */
export const FAILURE_CONVERTER_PATH = existsSync(join(__dirname, 'failure-converter.js'))
  ? join(__dirname, 'failure-converter.js')
  : join(__dirname, '..', '..', 'dist', 'lib', 'codec', 'failure-converter.js');

/** The payload keys of a configuration (validated at load), or undefined when the codec is off. */
export function payloadKeysOf(config: Pick<Config, 'payloadEncryption'>): PayloadKeys | undefined {
  return parsePayloadKeys(config.payloadEncryption.key, config.payloadEncryption.oldKeys);
}

/** The DataConverter for a client or worker; undefined when payload encryption is off. */
export function lifeboatDataConverter(config: Pick<Config, 'payloadEncryption'>): DataConverter | undefined {
  const keys = payloadKeysOf(config);
  return keys ? { payloadCodecs: [new AesGcmPayloadCodec(keys)], failureConverterPath: FAILURE_CONVERTER_PATH } : undefined;
}
