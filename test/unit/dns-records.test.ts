import { describe, expect, it } from 'vitest';
import {
  describeRecordSet, inZone, isDnsName, normalizeName, parseHostPort, recordFor, recordSet, sameRecords,
} from '../../lib/dns/records';
import { InputInvalid } from '../../lib/errors';

describe('DNS names and values (lib/dns/records.ts)', () => {
  it.each([
    ['Db.Example.COM.', 'db.example.com'],
    [' drill.lifeboat.test ', 'drill.lifeboat.test'],
    ['_service.x-1.example', '_service.x-1.example'],
  ])('normalises %j to %j', (input, expected) => {
    expect(normalizeName(input)).toBe(expected);
  });

  it.each(['', '.', 'a..b', '-lead.example', 'has space.example', 'db.example.com\nsend', 'x'.repeat(64) + '.example', 'ümlaut.example'])(
    'refuses %j, naming the field',
    (input) => {
      expect(() => normalizeName(input, 'DR_DNS_RECORD')).toThrow(InputInvalid);
      expect(() => normalizeName(input, 'DR_DNS_RECORD')).toThrow(/^DR_DNS_RECORD: /);
    },
  );

  it('knows what is in a zone', () => {
    expect(inZone('db.example.com', 'example.com')).toBe(true);
    expect(inZone('example.com', 'example.com')).toBe(true);
    expect(inZone('badexample.com', 'example.com')).toBe(false);
    expect(inZone('db.example.org', 'example.com')).toBe(false);
    expect(isDnsName('a.b')).toBe(true);
  });

  it.each([
    ['10.0.0.5', { type: 'A', value: '10.0.0.5' }],
    ['FD00:0:0::5', { type: 'AAAA', value: 'fd00::5' }],
    ['::ffff:10.0.0.1', { type: 'AAAA', value: '::ffff:a00:1' }],
    ['Standby.Example.com.', { type: 'CNAME', value: 'standby.example.com' }],
    ['localhost', { type: 'CNAME', value: 'localhost' }],
  ])('switching to %j writes %j', (value, record) => {
    expect(recordFor(value)).toEqual(record);
  });

  it.each(['10.0.0.300', '1.2.3', '', 'http://host', 'a b', '10.0.0.1\nsend'])('refuses the value %j', (value) => {
    expect(() => recordFor(value)).toThrow(/^value: .* is neither an IP address nor a host name/);
  });

  it('builds canonical record sets: sorted, de-duplicated, CNAME alone', () => {
    const set = recordSet('Dual.Example.com', 60, [{ type: 'AAAA', value: 'FD00::9' }, { type: 'A', value: '10.0.0.2' }, { type: 'A', value: '10.0.0.1' }, { type: 'A', value: '10.0.0.1' }]);
    expect(set).toEqual({ name: 'dual.example.com', ttl: 60, records: [{ type: 'A', value: '10.0.0.1' }, { type: 'A', value: '10.0.0.2' }, { type: 'AAAA', value: 'fd00::9' }] });
    expect(describeRecordSet(set)).toBe('A 10.0.0.1, A 10.0.0.2, AAAA fd00::9 (ttl 60)');
    expect(describeRecordSet(undefined)).toBe('nothing');
    expect(() => recordSet('x.example.com', 60, [{ type: 'CNAME', value: 'a.example.com' }, { type: 'A', value: '10.0.0.1' }])).toThrow(/cannot hold a CNAME together/);
    expect(() => recordSet('x.example.com', 60, [])).toThrow(/empty/);
    expect(() => recordSet('x.example.com', 60, [{ type: 'A', value: 'fd00::1' }])).toThrow(/is not a valid A value/);
    expect(() => recordSet('x.example.com', -1, [{ type: 'A', value: '10.0.0.1' }])).toThrow(/TTL -1/);
  });

  it('compares record sets by their records, not their TTL', () => {
    const a = recordSet('x.example.com', 60, [{ type: 'A', value: '10.0.0.1' }]);
    const b = recordSet('x.example.com', 30, [{ type: 'A', value: '10.0.0.1' }]);
    expect(sameRecords(a, b)).toBe(true);
    expect(sameRecords(a, undefined)).toBe(false);
    expect(sameRecords(undefined, undefined)).toBe(true);
    expect(sameRecords(a, recordSet('x.example.com', 60, [{ type: 'A', value: '10.0.0.2' }]))).toBe(false);
  });

  it.each([
    ['ns1.example.com', { host: 'ns1.example.com', port: 53 }],
    ['127.0.0.1:15353', { host: '127.0.0.1', port: 15353 }],
    ['[::1]:5353', { host: '::1', port: 5353 }],
    ['[fd00::1]', { host: 'fd00::1', port: 53 }],
    ['::1', { host: '::1', port: 53 }],
  ])('parses the server %j', (text, expected) => {
    expect(parseHostPort(text)).toEqual(expected);
  });

  it.each([
    ['host:0', /port 0 is not between 1 and 65535/],
    ['host:70000', /port 70000/],
    ['[10.0.0.1]:53', /not an IPv6 address/],
    ['a b:53', /not a host name or IP address/],
    ['host:port', /is not host or host:port/],
  ])('refuses the server %j', (text, message) => {
    expect(() => parseHostPort(text)).toThrow(message);
  });
});
