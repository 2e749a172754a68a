/** `lifeboat config check|docs`: validate the configuration, generate its reference. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderConfigDocs } from '../../lib/config/docs';
import { loadConfig, readRawEnv } from '../../lib/config/load';
import { SETTINGS } from '../../lib/config/schema';
import { resolveEnvFile } from '../context';
import type { CommandSpec } from '../command-table';
import { printJson } from '../format';

export const CONFIG_DOC_PATH = join(__dirname, '..', '..', '..', 'docs', 'configuration.md');

export const configCommands: CommandSpec[] = [
  {
    name: 'config check',
    summary: 'validate the configuration and print it with secrets masked (exit 2 when invalid)',
    options: [
      { flags: '--env-file <path>', description: 'env file to read (default: LIFEBOAT_ENV_FILE or /etc/default/corporate-intel-backup)' },
      { flags: '--json', description: 'print {valid, envFile, settings} as JSON (secrets masked; an invalid configuration still exits 2 with the problems on stderr)' },
    ],
    async run(_args, opts) {
      const envFile = (opts.envFile as string | undefined) ?? resolveEnvFile();
      loadConfig({ envFile: envFile ?? '/dev/null' });
      const { raw } = readRawEnv({ envFile: envFile ?? '/dev/null' });
      const settings: Record<string, string> = {};
      for (const s of SETTINGS) {
        const value = raw[s.env];
        if (value !== undefined && value !== '') settings[s.env] = 'secret' in s && s.secret ? '***' : value;
      }
      if (opts.json) {
        printJson({ valid: true, envFile: envFile ?? null, settings });
        return;
      }
      process.stdout.write(`configuration is valid${envFile ? ` (${envFile} + environment)` : ' (environment only)'}\n`);
      for (const [name, value] of Object.entries(settings)) process.stdout.write(`  ${name}=${value}\n`);
    },
  },
  {
    name: 'config docs',
    summary: 'print docs/configuration.md generated from the schema',
    options: [{ flags: '--write', description: 'write docs/configuration.md' }, { flags: '--check', description: 'exit 1 when docs/configuration.md differs' }],
    async run(_args, opts) {
      const text = renderConfigDocs();
      if (opts.write) {
        writeFileSync(CONFIG_DOC_PATH, text);
        process.stdout.write(`wrote ${CONFIG_DOC_PATH}\n`);
      } else if (opts.check) {
        const same = readFileSync(CONFIG_DOC_PATH, 'utf8') === text;
        process.stdout.write(same ? 'docs/configuration.md is up to date\n' : 'docs/configuration.md is out of date; run `lifeboat config docs --write`\n');
        return same ? 0 : 1;
      } else {
        process.stdout.write(text);
      }
    },
  },
];
