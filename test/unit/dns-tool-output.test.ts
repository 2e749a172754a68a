import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDigOutput, parseNsupdateFailure } from '../../lib/dns/bind-tools-output';
import { parseTsigKeyFile, readTsigKeyFile } from '../../lib/dns/tsig-key';
import { ConfigInvalid } from '../../lib/errors';

// Output captured from BIND 9.18 (dig / nsupdate from bind9-dnsutils) against a loopback named.
const DIG_CNAME_TWO_QUERIES = `;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 64956
;; flags: qr aa; QUERY: 1, ANSWER: 2, AUTHORITY: 1, ADDITIONAL: 2

;; OPT PSEUDOSECTION:
; EDNS: version: 0, flags:; udp: 1232
; COOKIE: 8aab3809f2499dae010000006b1171e572ecc12894d3182b (good)
;; ANSWER SECTION:
db.lifeboat.test.	60	IN	CNAME	ns.lifeboat.test.
ns.lifeboat.test.	60	IN	A	127.0.0.1

;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 60441
;; flags: qr aa; QUERY: 1, ANSWER: 1, AUTHORITY: 1, ADDITIONAL: 2

;; OPT PSEUDOSECTION:
; EDNS: version: 0, flags:; udp: 1232
; COOKIE: 8aab3809f2499dae010000006b1171e572ecc12894d3182b (good)
;; ANSWER SECTION:
db.lifeboat.test.	60	IN	CNAME	ns.lifeboat.test.

`;

const DIG_REFUSED = `;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: REFUSED, id: 21439
;; flags: qr; QUERY: 1, ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 2
`;

const DIG_TSIG = `;; Couldn't verify signature: tsig indicates error
;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOTAUTH, id: 50951
;; flags: qr; QUERY: 1, ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 2
`;

const DIG_DOWN = `;; communications error to 127.0.0.1#15998: connection refused
;; no servers could be reached
`;

describe('dig output', () => {
  it('reads each query\'s status, flags and answers', () => {
    const out = parseDigOutput(DIG_CNAME_TWO_QUERIES);
    expect(out.errors).toEqual([]);
    expect(out.responses).toHaveLength(2);
    expect(out.responses[0]).toEqual({
      status: 'NOERROR',
      flags: ['qr', 'aa'],
      answers: [
        { name: 'db.lifeboat.test', ttl: 60, type: 'CNAME', data: 'ns.lifeboat.test.' },
        { name: 'ns.lifeboat.test', ttl: 60, type: 'A', data: '127.0.0.1' },
      ],
    });
    expect(out.responses[1]!.answers).toHaveLength(1);
  });

  it('reads refusals, TSIG errors and unreachable servers', () => {
    expect(parseDigOutput(DIG_REFUSED).responses).toEqual([{ status: 'REFUSED', flags: ['qr'], answers: [] }]);
    expect(parseDigOutput(DIG_TSIG)).toMatchObject({ tsigError: true, responses: [{ status: 'NOTAUTH' }] });
    expect(parseDigOutput(DIG_DOWN)).toEqual({ responses: [], errors: ['communications error to 127.0.0.1#15998: connection refused', 'no servers could be reached'], tsigError: false });
  });

  it('keeps TXT data with spaces whole', () => {
    const out = parseDigOutput(';; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1\n;; flags: qr aa; QUERY: 1\nnotes.lifeboat.test.\t60\tIN\tTXT\t"keep me"\n');
    expect(out.responses[0]!.answers[0]).toEqual({ name: 'notes.lifeboat.test', ttl: 60, type: 'TXT', data: '"keep me"' });
  });
});

describe('nsupdate failures', () => {
  it.each([
    ['; TSIG error with server: tsig indicates error\nupdate failed: NOTAUTH(BADSIG)\n', { rcode: 'NOTAUTH', tsigError: 'BADSIG' }],
    ['; TSIG error with server: tsig indicates error\nupdate failed: NOTAUTH(BADKEY)\n', { rcode: 'NOTAUTH', tsigError: 'BADKEY' }],
    ['update failed: NOTAUTH\n', { rcode: 'NOTAUTH' }],
    ['update failed: NOTZONE\n', { rcode: 'NOTZONE' }],
    ['update failed: REFUSED\n', { rcode: 'REFUSED' }],
    ['update failed: SERVFAIL\n', { rcode: 'SERVFAIL' }],
    ['; Communication with 127.0.0.1#15998 failed: connection refused\n', { communication: '127.0.0.1#15998: connection refused' }],
    ['; Communication with 192.0.2.1#53 failed: timed out\n', { communication: '192.0.2.1#53: timed out' }],
    ['could not read key from /nonexist.{private,key}: file not found\nupdate failed: REFUSED\n', { keyFile: 'could not read key from /nonexist.{private,key}: file not found', rcode: 'REFUSED' }],
    ["03-Dec-2026 13:41:38.969 dns_rdata_fromtext: buffer-0x7f50d1f59c60:1: near '10.1.2.300': bad dotted quad\ninvalid rdata format: bad dotted quad\nsyntax error\n", { syntax: "03-Dec-2026 13:41:38.969 dns_rdata_fromtext: buffer-0x7f50d1f59c60:1: near '10.1.2.300': bad dotted quad" }],
  ])('classifies %j', (text, expected) => {
    expect(parseNsupdateFailure(text)).toEqual(expected);
  });
});

describe('TSIG key files', () => {
  const SECRET = 'oqjs1L1viT+ZB8MjSfZlznpYBFlmWTHkGmLRm6Osd9I=';

  it('reads name and algorithm of tsig-keygen and ddns-confgen output, never the secret', () => {
    const tsigKeygen = `key "lifeboat-dr" {\n\talgorithm hmac-sha256;\n\tsecret "${SECRET}";\n};\n`;
    expect(parseTsigKeyFile(tsigKeygen)).toEqual({ name: 'lifeboat-dr', algorithm: 'hmac-sha256' });
    const ddnsConfgen = `# To activate this key, place the following in named.conf, and\n# in a separate keyfile:\nkey "ddns-key.lifeboat.test" {\n\talgorithm hmac-sha512;\n\tsecret "${SECRET}";\n};\n// trailing\n/* block\n key "x" { } */\n`;
    expect(parseTsigKeyFile(ddnsConfgen)).toEqual({ name: 'ddns-key.lifeboat.test', algorithm: 'hmac-sha512' });
    expect(JSON.stringify(parseTsigKeyFile(tsigKeygen))).not.toContain(SECRET);
  });

  it.each([
    ['nothing here', /holds no `key "name"/],
    [`key "a" { algorithm hmac-sha256; secret "${SECRET}"; };\nkey "b" { algorithm hmac-sha256; secret "${SECRET}"; };`, /holds 2 key statements/],
    [`key "a" { secret "${SECRET}"; };`, /key "a" has no algorithm/],
    [`key "a" { algorithm rot13; secret "${SECRET}"; };`, /uses algorithm rot13/],
    ['key "a" { algorithm hmac-sha256; };', /key "a" has no secret/],
    ['key "a" { algorithm hmac-sha256; secret "not base64!"; };', /not base64/],
  ])('refuses %j', (text, message) => {
    expect(() => parseTsigKeyFile(text)).toThrow(message);
    try {
      parseTsigKeyFile(text);
    } catch (error) {
      expect((error as Error).message).not.toContain(SECRET);
    }
  });

  it('names DR_DNS_TSIG_KEY_FILE when the file is missing or unusable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsig-'));
    try {
      expect(() => readTsigKeyFile(join(dir, 'missing.key'))).toThrow(ConfigInvalid);
      expect(() => readTsigKeyFile(join(dir, 'missing.key'))).toThrow(/DR_DNS_TSIG_KEY_FILE: key file .*missing\.key does not exist/);
      writeFileSync(join(dir, 'bad.key'), 'garbage');
      expect(() => readTsigKeyFile(join(dir, 'bad.key'))).toThrow(/DR_DNS_TSIG_KEY_FILE: key file .*bad\.key holds no/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
