import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_MAX_CERT_BYTES,
  ServerFlightParser,
  formatBytes,
  parseCertificateList,
  parseServerHello,
  type TlsAlert,
  type TlsStreamErrorReason,
} from '../../../src/scan/tls-records.js';
import { handshake, record, splitEvery, u16, u24 } from '../../helpers/tls-bytes.js';

// ---- byte builders (TLS wire format) ----





function serverHello(opts: { supportedVersion?: number; random?: Buffer; keyShare?: { group: number; length: number } } = {}): Buffer {
  const share = opts.keyShare;
  const exts = Buffer.concat([
    ...(opts.supportedVersion === undefined ? [] : [u16(43), u16(2), u16(opts.supportedVersion)]),
    // key_share (51): group, then the length-prefixed key exchange bytes.
    ...(share === undefined ? [] : [u16(51), u16(4 + share.length), u16(share.group), u16(share.length), Buffer.alloc(share.length, 0x5a)]),
  ]);
  const body = Buffer.concat([
    u16(0x0303),
    opts.random ?? Buffer.alloc(32, 7),
    Buffer.from([0]), // empty session id
    u16(0xc02f),
    Buffer.from([0]), // null compression
    u16(exts.length),
    exts,
  ]);
  return handshake(2, body);
}

function certificateMessage(ders: Buffer[]): Buffer {
  const entries = Buffer.concat(ders.flatMap((d) => [u24(d.length), d]));
  return handshake(11, Buffer.concat([u24(entries.length), entries]));
}

const helloDone = handshake(14, Buffer.alloc(0));
const alertRecord = (level: number, description: number): Buffer => record(21, Buffer.from([level, description]));
const ccs = record(20, Buffer.from([1]));

/** Fake DER: the parser does not look inside, so recognisable filler makes order visible. */
const certA = Buffer.alloc(700, 0xa1);
const certB = Buffer.alloc(1200, 0xb2);
const certC = Buffer.alloc(40, 0xc3);

const HRR_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');


/** Splits a handshake byte string into records of at most `size` payload bytes. */
function asRecords(handshakeBytes: Buffer, size: number): Buffer {
  return Buffer.concat(splitEvery(handshakeBytes, size).map((p) => record(22, p)));
}

function run(chunks: Buffer[], opts: { max?: number; end?: boolean } = {}): ServerFlightParser {
  const p = new ServerFlightParser(opts.max === undefined ? {} : { maxCertBytes: opts.max });
  for (const c of chunks) p.push(c);
  if (opts.end) p.end();
  return p;
}

// ---- table: streams that yield a certificate list ----

const flight12 = Buffer.concat([serverHello(), certificateMessage([certA, certB, certC]), helloDone]);

interface ChainCase {
  name: string;
  chunks: Buffer[];
  expected: Buffer[];
}

const chainCases: ChainCase[] = [
  { name: 'several handshake messages in one record', chunks: [record(22, flight12)], expected: [certA, certB, certC] },
  { name: 'a message split across records', chunks: [asRecords(flight12, 300)], expected: [certA, certB, certC] },
  { name: 'handshake header split across records', chunks: [asRecords(flight12, 3)], expected: [certA, certB, certC] },
  { name: 'records fed one byte at a time', chunks: splitEvery(asRecords(flight12, 500), 1), expected: [certA, certB, certC] },
  { name: 'records fed in odd chunk sizes', chunks: splitEvery(asRecords(flight12, 1000), 7), expected: [certA, certB, certC] },
  { name: 'order kept as sent (reverse)', chunks: [record(22, Buffer.concat([serverHello(), certificateMessage([certC, certB, certA])]))], expected: [certC, certB, certA] },
  {
    name: 'a warning alert before the flight does not stop parsing',
    chunks: [alertRecord(1, 112), record(22, flight12)],
    expected: [certA, certB, certC],
  },
  { name: 'empty chunks are harmless', chunks: [Buffer.alloc(0), record(22, flight12), Buffer.alloc(0)], expected: [certA, certB, certC] },
  { name: 'TLS 1.0 record version', chunks: [record(22, flight12, 0x0301)], expected: [certA, certB, certC] },
  { name: 'zero-length handshake record in between', chunks: [record(22, Buffer.alloc(0)), record(22, flight12)], expected: [certA, certB, certC] },
  { name: 'empty certificate list', chunks: [record(22, Buffer.concat([serverHello(), certificateMessage([])]))], expected: [] },
];

describe('ServerFlightParser: certificate extraction', () => {
  for (const c of chainCases) {
    it(c.name, () => {
      const p = run(c.chunks);
      assert.equal(p.error, null, p.error?.message);
      assert.ok(p.certificates, 'certificate message seen');
      assert.equal(p.certificates.length, c.expected.length);
      p.certificates.forEach((der, i) => assert.ok(der.equals(c.expected[i] as Buffer), `certificate ${i}`));
      assert.equal(p.serverHello?.versionName, 'TLSv1.2');
      assert.equal(p.encrypted, false);
    });
  }

  it('copies certificates out of the input buffers', () => {
    const input = record(22, flight12);
    const p = run([input]);
    input.fill(0);
    assert.ok(p.certificates?.[0]?.equals(certA));
  });
});

// ---- table: alerts ----

interface AlertCase {
  name: string;
  chunks: Buffer[];
  alert: Omit<TlsAlert, 'levelCode'>;
  finished: boolean;
}

const alertCases: AlertCase[] = [
  { name: 'fatal protocol_version', chunks: [alertRecord(2, 70)], alert: { level: 'fatal', description: 70, name: 'protocol_version' }, finished: true },
  { name: 'fatal handshake_failure after ServerHello', chunks: [record(22, serverHello()), alertRecord(2, 40)], alert: { level: 'fatal', description: 40, name: 'handshake_failure' }, finished: true },
  { name: 'warning unrecognized_name', chunks: [alertRecord(1, 112)], alert: { level: 'warning', description: 112, name: 'unrecognized_name' }, finished: false },
  { name: 'close_notify at warning level ends the stream', chunks: [alertRecord(1, 0)], alert: { level: 'warning', description: 0, name: 'close_notify' }, finished: true },
  { name: 'alert split across two records', chunks: [record(21, Buffer.from([2])), record(21, Buffer.from([80]))], alert: { level: 'fatal', description: 80, name: 'internal_error' }, finished: true },
  { name: 'unknown description', chunks: [alertRecord(2, 201)], alert: { level: 'fatal', description: 201, name: 'unknown_alert_201' }, finished: true },
  { name: 'fatal after a warning wins', chunks: [alertRecord(1, 112), alertRecord(2, 48)], alert: { level: 'fatal', description: 48, name: 'unknown_ca' }, finished: true },
];

describe('ServerFlightParser: alerts', () => {
  for (const c of alertCases) {
    it(c.name, () => {
      const p = run(c.chunks);
      assert.equal(p.error, null);
      assert.ok(p.alert);
      assert.deepEqual({ level: p.alert.level, description: p.alert.description, name: p.alert.name }, c.alert);
      assert.equal(p.finished, c.finished);
    });
  }

  it('a plaintext alert after the Certificate message is still decoded', () => {
    const p = run([record(22, flight12), alertRecord(2, 42)]);
    assert.equal(p.certificates?.length, 3);
    assert.equal(p.alert?.name, 'bad_certificate');
  });
});

// ---- table: errors ----

interface ErrorCase {
  name: string;
  chunks: Buffer[];
  max?: number;
  end?: boolean;
  reason: TlsStreamErrorReason;
  message: RegExp;
}

const hugeHeader = Buffer.concat([
  Buffer.from([22, 3, 3]), u16(4), // a record carrying only the handshake header
  Buffer.from([11]), u24(0xffffff),
]);

const errorCases: ErrorCase[] = [
  {
    name: 'plain HTTP answer',
    chunks: [Buffer.from('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')],
    reason: 'plain-http',
    message: /plain HTTP \("HTTP\/1\.1 400 Bad Request"\)/,
  },
  { name: 'SSH banner', chunks: [Buffer.from('SSH-2.0-OpenSSH_9.6\r\n')], reason: 'not-tls', message: /non-TLS data \("SSH-2\.0-OpenSSH_9\.6"\)/ },
  { name: 'SMTP banner', chunks: [Buffer.from('220 mail.example.com ESMTP\r\n')], reason: 'not-tls', message: /"220 mail\.example\.com ESMTP"/ },
  { name: 'binary garbage', chunks: [Buffer.from([0x00, 0xff, 0x10, 0x01])], reason: 'not-tls', message: /first bytes 0x00 0xff 0x10 0x01/ },
  { name: 'bad record version in the first record', chunks: [Buffer.from([22, 0x05, 0x00, 0, 4, 1, 2, 3, 4])], reason: 'not-tls', message: /invalid version 0x05 0x00/ },
  { name: 'unknown content type later on', chunks: [record(22, serverHello()), Buffer.from([99, 3, 3, 0, 1, 0])], reason: 'malformed', message: /record 2 has an unknown content type 99/ },
  { name: 'record longer than TLS allows', chunks: [Buffer.from([22, 3, 3]), u16(20000)], reason: 'malformed', message: /announces 20000 bytes, more than the TLS maximum/ },
  {
    name: '16 MB certificate announced',
    chunks: [hugeHeader],
    reason: 'too-large',
    message: /^certificate message of 16777215 bytes exceeds the 1 MiB limit$/,
  },
  {
    name: 'certificate over a custom limit',
    chunks: [record(22, certificateMessage([Buffer.alloc(150, 1)]))],
    max: 100,
    reason: 'too-large',
    message: /^certificate message of 156 bytes exceeds the 100 bytes limit$/,
  },
  {
    // Other messages have their own floor: a small certificate limit does not shrink it.
    name: 'another message over its limit',
    chunks: [Buffer.concat([Buffer.from([22, 3, 3]), u16(4), Buffer.from([12]), u24(300 * 1024)])],
    max: 100,
    reason: 'too-large',
    message: /^handshake message ServerKeyExchange of 307200 bytes exceeds the 256 KiB limit$/,
  },
  {
    name: 'another message over the default limit',
    chunks: [Buffer.concat([Buffer.from([22, 3, 3]), u16(4), Buffer.from([12]), u24(2 * 1024 * 1024)])],
    reason: 'too-large',
    message: /^handshake message ServerKeyExchange of 2097152 bytes exceeds the 1 MiB limit$/,
  },
  {
    name: 'certificate list length inconsistent',
    chunks: [record(22, handshake(11, Buffer.concat([u24(10), u24(2), Buffer.from([1, 2])])))],
    reason: 'malformed',
    message: /malformed Certificate message: the list announces 10 bytes but the message holds 5/,
  },
  {
    name: 'certificate entry runs past the message',
    chunks: [record(22, handshake(11, Buffer.concat([u24(5), u24(9), Buffer.from([1, 2])])))],
    reason: 'malformed',
    message: /certificate 1 announces 9 bytes, only 2 left/,
  },
  { name: 'truncated ServerHello body', chunks: [record(22, handshake(2, Buffer.alloc(10)))], reason: 'malformed', message: /malformed ServerHello: truncated/ },
  { name: 'end inside a record header', chunks: [Buffer.from([22, 3])], end: true, reason: 'truncated', message: /inside a TLS record header \(2 of 5 bytes\)/ },
  { name: 'end inside a record', chunks: [record(22, flight12).subarray(0, 100)], end: true, reason: 'truncated', message: /inside a TLS record \(\d+ bytes of it missing\)/ },
  {
    name: 'end inside a handshake message spanning records',
    chunks: [asRecords(Buffer.concat([serverHello(), certificateMessage([certA])]), 200).subarray(0, 2 * 205)],
    end: true,
    reason: 'truncated',
    message: /inside the Certificate handshake message/,
  },
];

describe('ServerFlightParser: errors', () => {
  for (const c of errorCases) {
    it(c.name, () => {
      const p = run(c.chunks, { ...(c.max === undefined ? {} : { max: c.max }), ...(c.end ? { end: true } : {}) });
      assert.ok(p.error, 'an error is reported');
      assert.equal(p.error.reason, c.reason);
      assert.match(p.error.message, c.message);
      assert.equal(p.error.code, `tls-${c.reason}`);
      assert.equal(p.finished, true);
      assert.equal(p.certificates, null);
    });
  }

  it('refuses a huge announcement at the header and never buffers its body', () => {
    const p = new ServerFlightParser();
    p.push(hugeHeader);
    assert.equal(p.error?.reason, 'too-large');
    assert.equal(p.bufferedBytes, 0);
    // A hostile peer keeps sending: nothing more is kept.
    for (let i = 0; i < 64; i++) p.push(Buffer.alloc(16384, 0x41));
    assert.equal(p.bufferedBytes, 0);
    assert.equal(p.bytesSeen, hugeHeader.length + 64 * 16384);
  });

  it('refuses as soon as the 4-byte header arrives, even mid-record', () => {
    const p = new ServerFlightParser();
    // Record announces 16 KiB; only the handshake header has arrived.
    p.push(Buffer.concat([Buffer.from([22, 3, 3]), u16(16384), Buffer.from([11]), u24(2_000_000)]));
    assert.equal(p.error?.reason, 'too-large');
  });

  it('never holds more than the limit while reassembling', () => {
    const limit = 4096;
    const p = new ServerFlightParser({ maxCertBytes: limit });
    const msg = certificateMessage([Buffer.alloc(limit - 10, 9)]);
    let peak = 0;
    for (const chunk of splitEvery(asRecords(msg, 1000), 333)) {
      p.push(chunk);
      peak = Math.max(peak, p.bufferedBytes);
    }
    assert.equal(p.error, null);
    assert.equal(p.certificates?.length, 1);
    assert.ok(peak <= limit + 5, `peak ${peak}`);
  });

  it('end() at a record boundary is not an error', () => {
    const p = run([record(22, serverHello())]);
    assert.equal(p.end(), null);
    assert.equal(p.error, null);
  });

  it('end() with nothing received is not a framing error', () => {
    const p = new ServerFlightParser();
    assert.equal(p.end(), null);
    assert.equal(p.bytesSeen, 0);
  });

  it('the certificate limit is for certificates: a post-quantum ServerHello and a large ServerKeyExchange pass under 256 bytes', () => {
    // X25519MLKEM768 (0x11ec): the server's share is 1,088 bytes of ML-KEM ciphertext + 32 of X25519.
    // Node 24's client offers it by default, so a real TLS 1.3 ServerHello is 1,206 bytes.
    const pq = serverHello({ supportedVersion: 0x0304, keyShare: { group: 0x11ec, length: 1120 } });
    assert.ok(pq.length - 4 > 1100, `ServerHello body of ${pq.length - 4} bytes`);
    const p13 = run([record(22, pq)], { max: 256 });
    assert.equal(p13.error, null, p13.error?.message);
    assert.equal(p13.serverHello?.versionName, 'TLSv1.3');
    assert.equal(p13.encrypted, true);

    const small = Buffer.alloc(100, 0xc3);
    const ske = handshake(12, Buffer.alloc(1500, 0x12)); // ffdhe3072 parameters and share, signed
    const p12 = run([record(22, Buffer.concat([serverHello(), certificateMessage([small]), ske, helloDone]))], { max: 256 });
    assert.equal(p12.error, null, p12.error?.message);
    assert.deepEqual(p12.certificates, [small]);
  });

  it('rejects a nonsensical limit', () => {
    assert.throws(() => new ServerFlightParser({ maxCertBytes: 0 }), RangeError);
  });
});

// ---- encryption boundaries ----

describe('ServerFlightParser: where plaintext ends', () => {
  it('TLS 1.3 ServerHello: the rest is ciphertext', () => {
    const p = run([record(22, serverHello({ supportedVersion: 0x0304 })), ccs, record(23, Buffer.alloc(300, 0x55)), record(22, certificateMessage([certA]))]);
    assert.equal(p.serverHello?.versionName, 'TLSv1.3');
    assert.equal(p.encrypted, true);
    assert.equal(p.certificates, null);
    assert.equal(p.error, null);
  });

  it('a HelloRetryRequest is not the end of plaintext', () => {
    const p = run([record(22, serverHello({ supportedVersion: 0x0304, random: HRR_RANDOM }))]);
    assert.equal(p.serverHello?.helloRetryRequest, true);
    assert.equal(p.encrypted, false);
  });

  it('ChangeCipherSpec before any Certificate (resumption): no chain, no error', () => {
    const p = run([record(22, serverHello()), ccs, record(22, Buffer.alloc(40, 0x99))]);
    assert.equal(p.encrypted, true);
    assert.equal(p.certificates, null);
    assert.equal(p.error, null);
    assert.equal(p.end(), null);
  });

  it('ignores everything after ChangeCipherSpec, including bytes that would be errors', () => {
    const p = run([record(22, flight12), ccs, Buffer.from('HTTP/1.1 garbage')]);
    assert.equal(p.certificates?.length, 3);
    assert.equal(p.error, null);
  });
});

// ---- the pure helpers ----

describe('tls-records helpers', () => {
  it('formatBytes prints limits as configured', () => {
    assert.equal(formatBytes(DEFAULT_MAX_CERT_BYTES), '1 MiB');
    assert.equal(formatBytes(64 * 1024), '64 KiB');
    assert.equal(formatBytes(1000), '1000 bytes');
  });

  it('parseCertificateList rejects an empty entry', () => {
    assert.match(String(parseCertificateList(Buffer.concat([u24(3), u24(0)]))), /certificate 1 is empty/);
  });

  it('parseServerHello reads a TLS 1.2 hello without extensions', () => {
    const body = Buffer.concat([u16(0x0303), Buffer.alloc(32), Buffer.from([0]), u16(0x002f), Buffer.from([0])]);
    const hello = parseServerHello(body);
    assert.equal(typeof hello, 'object');
    assert.deepEqual(hello, { version: 0x0303, versionName: 'TLSv1.2', cipherSuite: 0x002f, helloRetryRequest: false });
  });
});
