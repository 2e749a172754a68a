/**
 * `lifeboat codec-server [--port N] [--host H] [--origin URL ...] [--no-auth]`: the payload codec
 * over HTTP (lib/codec/server.ts) for the Temporal UI and CLI, with this host's payload keys.
 * UI: Settings -> Data Encoder -> `http://<host>:<port>/t/<LIFEBOAT_CODEC_TOKEN>` (or the plain
 * URL with --no-auth on localhost); CLI: `temporal workflow show --codec-endpoint ... --codec-auth "Bearer <token>"`.
 */
import { InputInvalid } from '../../lib/errors';
import { payloadKeysOf } from '../../lib/codec/data-converter';
import { AesGcmPayloadCodec } from '../../lib/codec/payload-codec';
import { createCodecServer } from '../../lib/codec/server';
import type { CommandSpec } from '../command-table';
import { loadCliContext } from '../context';

export const codecServerCommands: CommandSpec[] = [
  {
    name: 'codec-server',
    summary: 'serve the payload codec over HTTP (/encode, /decode) so the Temporal UI shows decrypted payloads',
    options: [
      { flags: '--port <port>', description: 'TCP port (default 8888)' },
      { flags: '--host <host>', description: 'address to listen on (default 127.0.0.1)' },
      { flags: '--origin <url>', description: 'the UI origin allowed by CORS, repeatable or comma-separated (default: the origin of DR_UI_URL)' },
      { flags: '--no-auth', description: 'no bearer token (only on 127.0.0.1)' },
    ],
    async run(_args, opts) {
      const port = opts.port === undefined ? 8888 : Number(opts.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InputInvalid('--port', `"${String(opts.port)}" is not a TCP port`, 'e.g. --port 8888');
      const host = (opts.host as string | undefined) ?? '127.0.0.1';
      const { config, logger } = loadCliContext();
      const keys = payloadKeysOf(config);
      if (!keys) throw new InputInvalid('LIFEBOAT_PAYLOAD_KEY', 'is not set: there is nothing to decode with', 'set LIFEBOAT_PAYLOAD_KEY (and LIFEBOAT_PAYLOAD_KEYS for old keys) as on the workers');
      const noAuth = opts.auth === false;
      const token = config.payloadEncryption.codecServerToken;
      if (!noAuth && !token) throw new InputInvalid('LIFEBOAT_CODEC_TOKEN', 'is not set', 'set LIFEBOAT_CODEC_TOKEN to a long random string, or pass --no-auth on 127.0.0.1');
      if (noAuth && host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') throw new InputInvalid('--no-auth', `refused on ${host}: anyone who reaches it could decrypt`, 'listen on 127.0.0.1, or set LIFEBOAT_CODEC_TOKEN');
      const origins = (opts.origin === undefined ? [new URL(config.dr.uiUrl).origin] : [opts.origin].flat().flatMap((o) => String(o).split(','))).map((o) => o.trim().replace(/\/$/, '')).filter(Boolean);
      const server = createCodecServer({
        codec: new AesGcmPayloadCodec(keys),
        token: noAuth ? undefined : token,
        origins,
        onRequest: (r) => logger.info(r, 'codec request'),
      });
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
      process.stdout.write(`codec server on http://${host}:${port} (keys ${[...keys.all.keys()].join(', ')}; encodes with ${keys.current.id}); CORS for ${origins.join(', ')}${noAuth ? '; no authentication' : '; bearer token required (or /t/<token> in the endpoint)'}\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => void server.close(() => resolve());
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    },
  },
];
