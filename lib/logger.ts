/**
 * JSON logging with pino. Secrets never reach a log line: known secret field names are redacted
 * and any configured secret value found in a message string is replaced with `***`.
 */
import pino, { type Logger } from 'pino';
import { scrubSecrets } from './secrets';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level?: string;
  /** Values to scrub from messages (Config.secretValues). */
  secrets?: readonly string[];
  /** File descriptor to write to; default 1 (stdout). The CLI logs to stderr (2). */
  fd?: number;
  /** Append to this file instead of a file descriptor. */
  file?: string;
  name?: string;
}

const REDACT_PATHS = [
  'password', '*.password', 'secretKey', '*.secretKey', 'secretAccessKey', '*.secretAccessKey',
  'passphrase', '*.passphrase', 'apiKey', '*.apiKey', 'PGPASSWORD', '*.PGPASSWORD',
  'AWS_SECRET_ACCESS_KEY', '*.AWS_SECRET_ACCESS_KEY', 'slackWebhook', '*.slackWebhook',
  'smtpUrl', '*.smtpUrl', 'pagerdutyRoutingKey', '*.pagerdutyRoutingKey',
];

export function createLogger(options: LoggerOptions = {}): Logger {
  const secrets = options.secrets ?? [];
  return pino(
    {
      name: options.name ?? 'lifeboat',
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '***' },
      hooks: {
        logMethod(args, method) {
          if (secrets.length > 0) {
            args = args.map((a) => (typeof a === 'string' ? scrubSecrets(a, secrets) : a)) as typeof args;
          }
          method.apply(this, args);
        },
      },
    },
    options.file ? pino.destination({ dest: options.file, append: true, mkdir: true, sync: true }) : pino.destination({ fd: options.fd ?? 1, sync: true }),
  );
}
