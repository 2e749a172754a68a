/**
 * Validation of 5-field cron expressions (minute hour day-of-month month day-of-week) as Temporal
 * Schedules accept them, so a bad calendar spec is refused with a message naming the field before
 * anything is applied. Supports `*`, lists, ranges, steps, month and weekday names.
 */
const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'], base: 1 },
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'], base: 0 },
] as const;

function value(text: string, field: (typeof FIELDS)[number]): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  const names = 'names' in field ? (field.names as readonly string[]) : undefined;
  const index = names?.indexOf(text.toUpperCase()) ?? -1;
  return index >= 0 ? index + ('base' in field ? field.base : 0) : undefined;
}

/** Problems with a cron expression, or [] when it is valid. */
export function cronProblems(expression: string): string[] {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) return [`has ${parts.length} fields; a cron spec has 5 (minute hour day-of-month month day-of-week)`];
  const problems: string[] = [];
  parts.forEach((part, i) => {
    const field = FIELDS[i]!;
    for (const item of part.split(',')) {
      const [range, step, extra] = item.split('/');
      if (extra !== undefined || (step !== undefined && !/^[1-9]\d*$/.test(step))) {
        problems.push(`${field.name} "${item}": step must be a positive integer`);
        continue;
      }
      if (range === '*') continue;
      const [lo, hi, more] = (range ?? '').split('-');
      const a = value(lo ?? '', field);
      const b = hi === undefined ? a : value(hi, field);
      if (more !== undefined || a === undefined || b === undefined) {
        problems.push(`${field.name} "${item}" is not a number, name, range or *`);
      } else if (a < field.min || b > field.max || a > b) {
        problems.push(`${field.name} "${item}" is outside ${field.min}-${field.max}`);
      }
    }
  });
  return problems;
}

/** Parse `name=cron;name=cron` (SCHEDULE_OVERRIDES). Throws an Error listing every problem. */
export function parseScheduleOverrides(text: string | undefined, knownNames: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text || !text.trim()) return out;
  const problems: string[] = [];
  for (const entry of text.split(';').map((e) => e.trim()).filter(Boolean)) {
    const eq = entry.indexOf('=');
    const name = eq > 0 ? entry.slice(0, eq).trim() : '';
    const spec = eq > 0 ? entry.slice(eq + 1).trim() : '';
    if (!name || !spec) {
      problems.push(`"${entry}" is not name=cron`);
      continue;
    }
    if (!knownNames.includes(name)) {
      problems.push(`unknown schedule "${name}" (known: ${knownNames.join(', ')})`);
      continue;
    }
    const p = cronProblems(spec);
    if (p.length > 0) problems.push(`${name}: "${spec}" ${p.join('; ')}`);
    else out[name] = spec;
  }
  if (problems.length > 0) throw new Error(problems.join('; '));
  return out;
}
