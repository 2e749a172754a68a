/**
 * TSIG key files in BIND's `key` statement format, as `tsig-keygen` and `ddns-confgen -q` write
 * them and `named.conf` includes them:
 *
 *   key "lifeboat-dr" { algorithm hmac-sha256; secret "base64..."; };
 *
 * The file path is what Lifeboat passes around (DR_DNS_TSIG_KEY_FILE; nsupdate and dig read it with
 * `-k`); this module only reads the key's name and algorithm for messages and never returns the
 * secret, so it cannot end up in a log, a result or a history.
 */
import { readFileSync } from 'node:fs';
import { ConfigInvalid } from '../errors';

export interface TsigKeyInfo {
  name: string;
  algorithm: string;
}

const ALGORITHMS = ['hmac-md5', 'hmac-sha1', 'hmac-sha224', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512'];

/** Comments of all three named.conf styles removed (`#`, `//`, C blocks), quoted strings kept. */
function stripComments(text: string): string {
  return text.replace(/("(?:[^"\\]|\\.)*")|\/\*[\s\S]*?\*\/|(?:#|\/\/)[^\n]*/g, (_m, quoted: string | undefined) => quoted ?? ' ');
}

/**
 * Name and algorithm of the single key in `text`. Throws a plain Error saying what is wrong (the
 * caller names the setting); the message never quotes the secret.
 */
export function parseTsigKeyFile(text: string): TsigKeyInfo {
  const body = stripComments(text);
  const keys = [...body.matchAll(/\bkey\s+(?:"([^"]+)"|([A-Za-z0-9._-]+))\s*\{([^}]*)\}\s*;/g)];
  if (keys.length === 0) throw new Error('holds no `key "name" { algorithm ...; secret "..."; };` statement');
  if (keys.length > 1) throw new Error(`holds ${keys.length} key statements; nsupdate signs with one, so keep exactly one`);
  const [, quoted, bare, inner] = keys[0]! as unknown as [string, string | undefined, string | undefined, string];
  const name = (quoted ?? bare)!.toLowerCase().replace(/\.$/, '');
  const algorithm = /\balgorithm\s+"?([A-Za-z0-9.-]+)"?\s*;/.exec(inner)?.[1]?.toLowerCase().replace(/\.$/, '');
  if (!algorithm) throw new Error(`key "${name}" has no algorithm`);
  if (!ALGORITHMS.includes(algorithm)) throw new Error(`key "${name}" uses algorithm ${algorithm}; use one of ${ALGORITHMS.join(', ')}`);
  const secret = /\bsecret\s+"([^"]*)"\s*;/.exec(inner)?.[1];
  if (!secret) throw new Error(`key "${name}" has no secret`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(secret)) throw new Error(`key "${name}" has a secret that is not base64`);
  return { name, algorithm };
}

/** Read and parse DR_DNS_TSIG_KEY_FILE (or `setting`); ConfigInvalid naming it when unusable. */
export function readTsigKeyFile(path: string, setting = 'DR_DNS_TSIG_KEY_FILE'): TsigKeyInfo {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by this worker' : `cannot be read (${code ?? (error as Error).message})`;
    throw new ConfigInvalid([{ env: setting, message: `key file ${path} ${why}`, hint: `write the key with \`tsig-keygen -a hmac-sha256 <name> > ${path}\` (the same key the DNS server allows to update the zone), readable by the worker only` }]);
  }
  try {
    return parseTsigKeyFile(text);
  } catch (error) {
    throw new ConfigInvalid([{ env: setting, message: `key file ${path} ${(error as Error).message}`, hint: 'use the output of `tsig-keygen -a hmac-sha256 <name>`: one key "name" { algorithm ...; secret "..."; }; statement' }]);
  }
}
