/**
 * Point-in-time recovery: the target time, pure (no I/O; the caller passes `now`). What the operator
 * typed (`--pitr "2025-10-17 14:30:00+00"`) becomes an exact instant, read in RESTORE_TIME_ZONE
 * when it carries no offset; malformed, impossible or future times are refused with the field
 * `--pitr`. Table-tested in test/unit/pitr-plan.test.ts.
 */
import { InputInvalid } from '../errors';

export const PITR_FIELD = '--pitr';
const FORMAT_HINT = 'write the time as YYYY-MM-DD HH:MM[:SS[.ffffff]] with an optional offset, e.g. "2025-10-17 14:30:00+00", or `latest` for the end of the archived WAL';

export interface PitrTarget {
  /** What the operator typed. */
  input: string;
  /** Microseconds since the epoch (exact to the microsecond, as PostgreSQL compares). */
  epochMicros: number;
  /** ISO 8601 in UTC with microseconds: `2025-10-17T14:30:00.000000Z`. */
  utc: string;
  /** The value written to recovery_target_time: `2025-10-17 14:30:00.000000+00`. */
  postgres: string;
  /** How the input was read: `offset` when it carried one, else the IANA zone it was read in. */
  interpretedIn: string;
  /**
   * `latest`: recover to the end of the archived WAL (no recovery_target_time). `epochMicros`/`utc`
   * are then the moment the recovery was planned, and `postgres` is empty.
   */
  latest?: boolean;
}

/** What `--pitr latest` (and the DR runbook's default) asks for: the end of the archive. */
export const LATEST = 'latest';

const TIME_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(?:([Zz]|UTC|utc)|([+-])(\d{2})(?::?(\d{2}))?)?$/;

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** `2025-10-17 14:30:00 UTC`, with the fraction only when it is not zero. */
export function humanUtc(epochMicros: number): string {
  const { date, fraction } = splitMicros(epochMicros);
  const iso = date.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction ? `.${pad(fraction, 6).replace(/0+$/, '')}` : ''} UTC`;
}

function splitMicros(epochMicros: number): { date: Date; fraction: number } {
  const seconds = Math.floor(epochMicros / 1e6);
  return { date: new Date(seconds * 1000), fraction: epochMicros - seconds * 1e6 };
}

function utcForms(epochMicros: number): { utc: string; postgres: string } {
  const { date, fraction } = splitMicros(epochMicros);
  const iso = date.toISOString();
  const base = `${iso.slice(0, 10)}T${iso.slice(11, 19)}.${pad(fraction, 6)}`;
  return { utc: `${base}Z`, postgres: `${base.replace('T', ' ')}+00` };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Offset of `zone` from UTC at instant `epochMs`, in milliseconds (local = utc + offset). */
export function zoneOffsetMs(epochMs: number, zone: string): number {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(zone, format);
  }
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(new Date(epochMs))) if (part.type !== 'literal') parts[part.type] = Number(part.value);
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return wall - Math.floor(epochMs / 1000) * 1000;
}

/**
 * Every UTC instant (ms) at which the wall clock of `zone` shows `wallMs` (a wall time encoded as if
 * it were UTC): one normally, none in a daylight-saving gap, two in a fold.
 */
export function instantsForWallTime(wallMs: number, zone: string): number[] {
  const day = 86_400_000;
  const offsets = new Set([zoneOffsetMs(wallMs - day, zone), zoneOffsetMs(wallMs, zone), zoneOffsetMs(wallMs + day, zone)]);
  const instants = new Set<number>();
  for (const offset of offsets) {
    const instant = wallMs - offset;
    if (zoneOffsetMs(instant, zone) === offset) instants.add(instant);
  }
  return [...instants].sort((a, b) => a - b);
}

function formatOffset(offsetMs: number): string {
  const sign = offsetMs < 0 ? '-' : '+';
  const minutes = Math.abs(offsetMs) / 60_000;
  return `${sign}${pad(Math.floor(minutes / 60))}:${pad(minutes % 60)}`;
}

/**
 * Parse a PITR target. Accepts `YYYY-MM-DD HH:MM[:SS[.ffffff]]` (or `T` between date and time) with
 * an optional `Z`, `UTC`, `+HH`, `+HHMM` or `+HH:MM`. Without an offset the time is read in `zone`;
 * a time that does not exist there (skipped by a daylight-saving change) or exists twice (the hour
 * repeated when clocks go back) is refused, as is anything malformed or later than `now`.
 * Errors are InputInvalid on `--pitr`, with a hint saying how to write it.
 */
export function parseTargetTime(text: string, zone: string, now: Date): PitrTarget {
  const input = text.trim();
  if (input === '') throw new InputInvalid(PITR_FIELD, 'is empty', FORMAT_HINT);
  if (input.toLowerCase() === LATEST) {
    const nowMicros = now.getTime() * 1000;
    return { input: LATEST, epochMicros: nowMicros, utc: utcForms(nowMicros).utc, postgres: '', interpretedIn: 'offset', latest: true };
  }
  const m = TIME_PATTERN.exec(input);
  if (!m) throw new InputInvalid(PITR_FIELD, `"${input}" is not a date and time`, FORMAT_HINT);
  const [, ys, mos, ds, hs, mis, ss, fs, utcMark, sign, ohs, oms] = m;
  const [year, month, day, hour, minute, second] = [ys, mos, ds, hs, mis, ss ?? '0'].map(Number) as [number, number, number, number, number, number];
  if (fs !== undefined && fs.length > 6) throw new InputInvalid(PITR_FIELD, `"${input}" has more than 6 fractional digits (PostgreSQL keeps microseconds)`, FORMAT_HINT);
  if (year < 1970) throw new InputInvalid(PITR_FIELD, `"${input}" is before 1970`, FORMAT_HINT);
  if (month < 1 || month > 12) throw new InputInvalid(PITR_FIELD, `"${input}" has no month ${month}`, FORMAT_HINT);
  if (day < 1 || day > daysInMonth(year, month)) throw new InputInvalid(PITR_FIELD, `"${input}": ${ys}-${mos} has no day ${day}`, FORMAT_HINT);
  if (hour > 23 || minute > 59 || second > 59) throw new InputInvalid(PITR_FIELD, `"${input}" is not a valid time of day`, FORMAT_HINT);
  const micros = fs === undefined ? 0 : Number(fs.padEnd(6, '0'));
  const wallMs = Date.UTC(year, month - 1, day, hour, minute, second);

  let epochMs: number;
  let interpretedIn: string;
  if (utcMark !== undefined) {
    epochMs = wallMs;
    interpretedIn = 'offset';
  } else if (sign !== undefined) {
    const oh = Number(ohs);
    const om = oms === undefined ? 0 : Number(oms);
    if (oh > 15 || om > 59) throw new InputInvalid(PITR_FIELD, `"${input}" has an impossible UTC offset ${sign}${ohs}${oms !== undefined ? `:${oms}` : ''}`, FORMAT_HINT);
    epochMs = wallMs - (sign === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
    interpretedIn = 'offset';
  } else {
    const instants = instantsForWallTime(wallMs, zone);
    if (instants.length === 0) {
      const before = zoneOffsetMs(wallMs - 86_400_000, zone);
      throw new InputInvalid(
        PITR_FIELD,
        `"${input}" does not exist in ${zone}: the clocks skip that hour (daylight saving time starts)`,
        `choose a time outside the change, or give the offset explicitly, e.g. "${input}${formatOffset(before)}"`,
      );
    }
    if (instants.length > 1) {
      const readings = instants.map((t) => `${humanUtc(t * 1000)} (${formatOffset(zoneOffsetMs(t, zone))})`);
      throw new InputInvalid(
        PITR_FIELD,
        `"${input}" is ambiguous in ${zone}: the clocks go back and it happens twice, at ${readings.join(' and at ')}`,
        `add the offset you mean: "${input}${formatOffset(zoneOffsetMs(instants[0]!, zone))}" (the first) or "${input}${formatOffset(zoneOffsetMs(instants[1]!, zone))}" (the second)`,
      );
    }
    epochMs = instants[0]!;
    interpretedIn = zone;
  }
  const epochMicros = epochMs * 1000 + micros;
  if (epochMicros > now.getTime() * 1000) {
    throw new InputInvalid(PITR_FIELD, `"${input}" (${humanUtc(epochMicros)}) is in the future (now is ${humanUtc(now.getTime() * 1000)})`, 'point-in-time recovery goes back in time: choose a moment in the past');
  }
  return { input, epochMicros, ...utcForms(epochMicros), interpretedIn };
}
