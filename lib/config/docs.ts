/** Generates docs/configuration.md from SETTINGS; a unit test fails when the checked-in file drifts. */
import { CROSS_FIELD_RULES, kindLabel, SETTINGS, type SettingSpec } from './schema';

export function renderConfigDocs(): string {
  const lines: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from lib/config/schema.ts by `lifeboat config docs --write`. Do not edit by hand. -->',
    '',
    'Lifeboat reads these variables from its environment and from an env file in shell syntax',
    '(`export NAME=value`): `$LIFEBOAT_ENV_FILE` when set, otherwise `/etc/default/corporate-intel-backup`',
    'when it exists (the seed\'s file), otherwise the local stack\'s `lifeboat.env` written by',
    '`lifeboat stack up`. The process environment wins over the file. Every problem is reported at once',
    'as `NAME: message` with a `hint:` line, before anything is connected or written, and the command',
    'exits with status 2. Secret settings are never logged, never placed in workflow inputs, results',
    'or history, and are masked by `lifeboat config check`.',
    '',
  ];
  const groups = new Map<string, SettingSpec[]>();
  for (const spec of SETTINGS as readonly SettingSpec[]) {
    const list = groups.get(spec.group) ?? [];
    list.push(spec);
    groups.set(spec.group, list);
  }
  for (const [group, specs] of groups) {
    lines.push(`## ${group}`, '', '| Variable | Type | Default | Secret | Description |', '| --- | --- | --- | --- | --- |');
    for (const spec of specs) {
      const def = spec.default !== undefined ? `\`${spec.default}\`` : spec.required ? '**required**' : '';
      lines.push(`| \`${spec.env}\` | ${kindLabel(spec.kind)} | ${def} | ${spec.secret ? 'yes' : ''} | ${spec.description.replace(/\|/g, '\\|')} |`);
    }
    lines.push('');
  }
  lines.push('## Cross-field rules', '', ...CROSS_FIELD_RULES.map((rule) => `- ${rule.doc}`), '');
  return lines.join('\n');
}
