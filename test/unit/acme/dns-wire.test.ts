import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  DnsWireError,
  RRCLASS,
  RRTYPE,
  decodeMessage,
  decodeTxtRdata,
  describeFailure,
  encodeName,
  encodeQuery,
  encodeTxtRdata,
  encodeUpdate,
  macSize,
  rcodeName,
  signMessage,
  verifyResponse,
  type TsigKey,
} from '../../../src/acme/dns/wire.js';
import { TSIG_ALGORITHMS } from '../../../src/config/types.js';

// Known vectors from an independent implementation: BIND 9.18's nsupdate
// (-y hmac-sha256:certs-key:<VECTOR_KEY.secret>) talking to named 9.18 (test/helpers/bind.ts),
// recorded once by relaying the UDP datagrams through a small proxy. Requests:
//   zone test. / update add _acme-challenge.a.test. 60 TXT "v1"   (and "update delete … TXT v1")
// Only the secret below signs them; it is a test value and secures nothing.
const VECTOR_KEY: TsigKey = { name: 'certs-key', algorithm: 'hmac-sha256', secret: 'Y2VydHMtdW5pdC10ZXN0LXNlY3JldC1ub3QtcmVhbCE=' };
const VECTOR_TIME_MS = 0x6b076b99 * 1000;
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const NSUPDATE_ADD = hex(`998128000001000000010001047465737400000600010f5f61636d652d6368616c6c656e67650161047465737400001000010000003c0003027631
  0963657274732d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b076b99012c0020c8cdacd583532b61144418c36105ae7eeb6eb127941553ca10692804381d4f65998100000000`);
const NAMED_ADD_RESPONSE = hex(`9981a8000001000000000001047465737400000600010963657274732d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b076b99012c0020
  e74e9622071391da0d23329c9a2648d47dab7383a8951fbcdc38251ac14bf80f998100000000`);
const NSUPDATE_DELETE = hex(`8f7528000001000000010001047465737400000600010f5f61636d652d6368616c6c656e67650161047465737400001000fe0000000000030276310963657274732d6b6579
  0000fa00ff00000000003d0b686d61632d7368613235360000006b076b99012c0020620af1ce0489fe3a5b51ab14b5d2e663401ef228bb1b8639811b990f123ead988f7500000000`);
const NAMED_DELETE_RESPONSE = hex(`8f75a8000001000000000001047465737400000600010963657274732d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b076b99012c0020
  d637c608ae61c034aeb052eafb382c8fdc3fdad12cdd479c149a64e1aa21421d8f7500000000`);
/** named's answer to a request signed with a wrong secret: NOTAUTH, unsigned TSIG with error BADSIG. */
const NAMED_BADSIG_RESPONSE = hex(`d3b6a8090001000000000001047465737400000600010963657274732d6b65790000fa00ff00000000001d0b686d61632d7368613235360000006b076b99012c0000d3b600100000`);
/** … and to a key name it does not know: NOTAUTH, BADKEY. */
const NAMED_BADKEY_RESPONSE = hex(`5205a809000100000000000104746573740000060001056e6f6b65790000fa00ff00000000001d0b686d61632d7368613235360000006b076b99012c0000520500110000`);

// ---- byte builders for hand-made answers ----

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}

function response(opts: { id?: number; rcode?: number; flags?: number; qd?: Buffer[]; an?: Buffer[]; ns?: Buffer[]; ar?: Buffer[]; counts?: number[] }): Buffer {
  const flags = opts.flags ?? 0x8000 | (opts.rcode ?? 0);
  const sections = [opts.qd ?? [], opts.an ?? [], opts.ns ?? [], opts.ar ?? []];
  const counts = opts.counts ?? sections.map((s) => s.length);
  return Buffer.concat([u16(opts.id ?? 0x1234), u16(flags), ...counts.map(u16), ...sections.flat()]);
}

function question(name: string, type: number): Buffer {
  return Buffer.concat([encodeName(name), u16(type), u16(RRCLASS.IN)]);
}

function record(name: Buffer, type: number, ttl: number, rdata: Buffer, klass: number = RRCLASS.IN): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(klass, 2);
  fixed.writeUInt32BE(ttl, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([name, fixed, rdata]);
}

const soaRdata = Buffer.concat([encodeName('ns.test'), encodeName('hostmaster.test'), Buffer.alloc(20)]);

describe('encodeName', () => {
  const cases: Array<[string, string]> = [
    ['a.test', '0161047465737400'],
    ['a.test.', '0161047465737400'],
    ['.', '00'],
    ['', '00'],
  ];
  for (const [name, want] of cases) {
    it(`encodes "${name}"`, () => assert.equal(encodeName(name).toString('hex'), want));
  }
  it('lowercases only when canonical', () => {
    assert.equal(encodeName('Certs-Key').toString('latin1').slice(1, 10), 'Certs-Key');
    assert.equal(encodeName('Certs-Key', true).toString('latin1').slice(1, 10), 'certs-key');
  });
  const bad: Array<[string, RegExp]> = [
    ['a..test', /empty label/],
    [`${'x'.repeat(64)}.test`, /longer than 63/],
    [Array.from({ length: 5 }, () => 'y'.repeat(60)).join('.'), /longer than 255/],
  ];
  for (const [name, why] of bad) {
    it(`rejects ${name.slice(0, 20)}…`, () => assert.throws(() => encodeName(name), (e: unknown) => e instanceof DnsWireError && why.test(e.message)));
  }
});

describe('TXT rdata', () => {
  const cases: Array<[string, number[]]> = [
    ['', [0]],
    ['v1', [2]],
    ['x'.repeat(255), [255]],
    ['x'.repeat(300), [255, 45]],
  ];
  for (const [value, lengths] of cases) {
    it(`splits a ${value.length}-byte value into strings of ${lengths.join('+')}`, () => {
      const rdata = encodeTxtRdata(value);
      assert.equal(rdata.length, lengths.reduce((a, b) => a + b + 1, 0));
      assert.equal(rdata[0], lengths[0]);
      assert.equal(decodeTxtRdata(rdata), value);
    });
  }
  it('rejects a character-string running past the end', () => {
    assert.throws(() => decodeTxtRdata(Buffer.from([5, 0x61])), /truncated/);
  });
});

describe('encodeUpdate', () => {
  it('matches nsupdate byte for byte (add, then delete by value)', () => {
    const add = encodeUpdate({ id: 0x9981, zone: 'test.', changes: [{ action: 'add', name: '_acme-challenge.a.test.', value: 'v1', ttl: 60 }] });
    const tsigAt = decodeMessage(NSUPDATE_ADD).tsig?.offset ?? 0;
    const unsigned = Buffer.from(NSUPDATE_ADD.subarray(0, tsigAt));
    unsigned.writeUInt16BE(0, 10); // ARCOUNT without the TSIG
    assert.deepEqual(add, unsigned);

    const del = encodeUpdate({ id: 0x8f75, zone: 'test', changes: [{ action: 'delete', name: '_acme-challenge.a.test', value: 'v1' }] });
    assert.deepEqual(del, Buffer.concat([NSUPDATE_DELETE.subarray(0, 10), u16(0), NSUPDATE_DELETE.subarray(12, decodeMessage(NSUPDATE_DELETE).tsig?.offset)]));
  });

  it('has one zone (SOA), no prerequisites, one update per change', () => {
    const msg = encodeUpdate({
      id: 7,
      zone: 'test',
      changes: [
        { action: 'add', name: '_acme-challenge.a.test', value: 'one', ttl: 120 },
        { action: 'delete', name: '_acme-challenge.a.test', value: 'two' },
      ],
    });
    assert.equal(msg.readUInt16BE(0), 7);
    assert.equal((msg.readUInt16BE(2) >> 11) & 0xf, 5, 'opcode UPDATE');
    assert.deepEqual([4, 6, 8, 10].map((o) => msg.readUInt16BE(o)), [1, 0, 2, 0]);
    // decodeMessage reads the sections as question/answer/authority: zone, prerequisite, update.
    const d = decodeMessage(Buffer.concat([msg.subarray(0, 2), u16(0x8000 | (5 << 11)), msg.subarray(4)]));
    assert.deepEqual(d.questions, [{ name: 'test.', type: RRTYPE.SOA, class: RRCLASS.IN }]);
    assert.deepEqual(
      d.authority.map((r) => [r.name, r.type, r.class, r.ttl, decodeTxtRdata(r.data)]),
      [
        ['_acme-challenge.a.test.', RRTYPE.TXT, RRCLASS.IN, 120, 'one'],
        ['_acme-challenge.a.test.', RRTYPE.TXT, RRCLASS.NONE, 0, 'two'],
      ],
    );
  });

  it('defaults the TTL to 60 and refuses a negative one', () => {
    const d = decodeMessage(Buffer.concat([u16(1), u16(0x8000), encodeUpdate({ id: 1, zone: 'test', changes: [{ action: 'add', name: 'x.test', value: 'v' }] }).subarray(4)]));
    assert.equal(d.authority[0]?.ttl, 60);
    assert.throws(() => encodeUpdate({ id: 1, zone: 'test', changes: [{ action: 'add', name: 'x.test', value: 'v', ttl: -1 }] }), /invalid TTL/);
  });
});

describe('encodeQuery', () => {
  it('asks one IN question without recursion unless asked', () => {
    const q = encodeQuery({ id: 0xbeef, name: 'a.test', type: RRTYPE.SOA });
    assert.equal(q.toString('hex'), `beef0000000100000000000001610474657374000006${'0001'}`);
    assert.equal(encodeQuery({ id: 1, name: 'a.test', type: RRTYPE.TXT, recursionDesired: true }).readUInt16BE(2), 0x0100);
  });
});

describe('TSIG', () => {
  it('signs exactly as nsupdate does (known vector, add and delete)', () => {
    for (const signedByNsupdate of [NSUPDATE_ADD, NSUPDATE_DELETE]) {
      const t = decodeMessage(signedByNsupdate).tsig;
      assert.ok(t);
      const unsigned = Buffer.from(signedByNsupdate.subarray(0, t.offset));
      unsigned.writeUInt16BE(0, 10);
      const { message, mac } = signMessage(unsigned, VECTOR_KEY, { nowMs: VECTOR_TIME_MS + 999 });
      assert.deepEqual(message, signedByNsupdate);
      assert.deepEqual(mac, t.mac);
    }
  });

  it("verifies named's signed answers against the request MAC, and rejects tampering", () => {
    for (const [req, res] of [[NSUPDATE_ADD, NAMED_ADD_RESPONSE], [NSUPDATE_DELETE, NAMED_DELETE_RESPONSE]] as const) {
      const requestMac = decodeMessage(req).tsig?.mac as Buffer;
      const msg = decodeMessage(res);
      assert.equal(msg.rcode, 0);
      assert.equal(verifyResponse(res, msg, VECTOR_KEY, requestMac, { nowMs: VECTOR_TIME_MS }), undefined);
      assert.match(verifyResponse(res, msg, { ...VECTOR_KEY, secret: 'AAAA' }, requestMac, { nowMs: VECTOR_TIME_MS }) ?? '', /does not verify/);
      assert.match(verifyResponse(res, msg, VECTOR_KEY, Buffer.alloc(32), { nowMs: VECTOR_TIME_MS }) ?? '', /does not verify/);
      assert.match(verifyResponse(res, msg, VECTOR_KEY, requestMac, { nowMs: VECTOR_TIME_MS + 301_000 }) ?? '', /signed 301 s away/);
      const flipped = Buffer.from(res);
      flipped[3] = 0x85; // rcode NOTAUTH instead of NOERROR
      assert.match(verifyResponse(flipped, decodeMessage(flipped), VECTOR_KEY, requestMac, { nowMs: VECTOR_TIME_MS }) ?? '', /does not verify/);
    }
  });

  it('says an unsigned answer or one signed with another key cannot be verified', () => {
    const plain = response({ id: 1 });
    assert.match(verifyResponse(plain, decodeMessage(plain), VECTOR_KEY, Buffer.alloc(32), { nowMs: 0 }) ?? '', /not signed/);
    const msg = decodeMessage(NAMED_ADD_RESPONSE);
    assert.match(verifyResponse(NAMED_ADD_RESPONSE, msg, { ...VECTOR_KEY, name: 'other' }, Buffer.alloc(32), { nowMs: VECTOR_TIME_MS }) ?? '', /key "certs-key\."/);
    assert.match(verifyResponse(NAMED_ADD_RESPONSE, msg, { ...VECTOR_KEY, algorithm: 'hmac-sha1' }, Buffer.alloc(32), { nowMs: VECTOR_TIME_MS }) ?? '', /algorithm hmac-sha256/);
  });

  for (const algorithm of TSIG_ALGORITHMS) {
    it(`${algorithm}: TSIG RR structure and MAC`, () => {
      const key: TsigKey = { name: 'Certs-Key', algorithm, secret: Buffer.alloc(32, 7).toString('base64') };
      const unsigned = encodeUpdate({ id: 0x4242, zone: 'test', changes: [{ action: 'add', name: '_acme-challenge.a.test', value: 'v', ttl: 60 }] });
      const nowMs = 1_700_000_000_500;
      const { message, mac } = signMessage(unsigned, key, { nowMs });
      assert.equal(message.readUInt16BE(10), 1, 'ARCOUNT counts the TSIG');
      assert.deepEqual(message.subarray(0, 10), unsigned.subarray(0, 10));
      const t = decodeMessage(Buffer.concat([message.subarray(0, 2), u16(0x8000 | (5 << 11)), message.subarray(4)])).tsig;
      assert.ok(t);
      assert.equal(t.keyName, 'certs-key.');
      assert.equal(t.algorithm, `${algorithm}.`);
      assert.equal(t.timeSigned, 1_700_000_000);
      assert.equal(t.fudge, 300);
      assert.equal(t.originalId, 0x4242);
      assert.equal(t.error, 0);
      assert.equal(t.otherData.length, 0);
      assert.equal(t.mac.length, macSize(algorithm));
      assert.deepEqual(t.mac, mac);
      // Independent recomputation of RFC 8945 §4.3.3's digest input.
      const vars = Buffer.concat([encodeName('certs-key'), u16(255), Buffer.alloc(4), encodeName(algorithm), Buffer.from([0, 0, 0x65, 0x53, 0xf1, 0x00]), u16(300), u16(0), u16(0)]);
      const want = createHmac(algorithm.slice(5), Buffer.alloc(32, 7)).update(unsigned).update(vars).digest();
      assert.deepEqual(mac, want);
    });
  }

  it('refuses a secret that is not base64, without echoing it', () => {
    const unsigned = encodeQuery({ id: 1, name: 'a.test', type: RRTYPE.SOA });
    for (const secret of ['not base64!', 'abc', '']) {
      assert.throws(
        () => signMessage(unsigned, { name: 'k', algorithm: 'hmac-sha256', secret }, { nowMs: 0 }),
        (e: unknown) => e instanceof DnsWireError && /not valid base64/.test(e.message) && (secret === '' || !e.message.includes(secret)),
      );
    }
  });
});

describe('decodeMessage', () => {
  it("reads named's BADSIG and BADKEY answers", () => {
    const badsig = decodeMessage(NAMED_BADSIG_RESPONSE);
    assert.equal(badsig.rcode, 9);
    assert.equal(badsig.tsig?.error, 16);
    assert.equal(badsig.tsig?.mac.length, 0);
    assert.equal(describeFailure(badsig, 'certs-key'), 'NOTAUTH, TSIG BADSIG (TSIG key "certs-key" not accepted: the signature did not verify: wrong secret or algorithm)');
    const badkey = decodeMessage(NAMED_BADKEY_RESPONSE);
    assert.equal(badkey.tsig?.error, 17);
    assert.match(describeFailure(badkey) ?? '', /^NOTAUTH, TSIG BADKEY \(TSIG key "nokey\." not accepted: the server does not know this key/);
  });

  const rcodes: Array<[number, string, RegExp | undefined]> = [
    [0, 'NOERROR', undefined],
    [1, 'FORMERR', /^FORMERR \(the server could not parse/],
    [2, 'SERVFAIL', /^SERVFAIL/],
    [3, 'NXDOMAIN', /^NXDOMAIN/],
    [4, 'NOTIMP', /^NOTIMP \(.*dynamic update/],
    [5, 'REFUSED', /^REFUSED \(.*allow-update/],
    [6, 'YXDOMAIN', /^YXDOMAIN/],
    [7, 'YXRRSET', /^YXRRSET/],
    [8, 'NXRRSET', /^NXRRSET/],
    [9, 'NOTAUTH', /^NOTAUTH \(.*not authoritative/],
    [10, 'NOTZONE', /^NOTZONE \(.*not inside the zone/],
    [15, 'RCODE15', /^RCODE15 \(unknown error\)/],
  ];
  for (const [rcode, name, words] of rcodes) {
    it(`rcode ${rcode} is ${name}`, () => {
      const msg = decodeMessage(response({ rcode, qd: [question('test', RRTYPE.SOA)] }));
      assert.equal(msg.rcode, rcode);
      assert.equal(rcodeName(rcode), name);
      const d = describeFailure(msg);
      if (words) assert.match(d ?? '', words);
      else assert.equal(d, undefined);
    });
  }

  it('reports the server clock of a BADTIME answer', () => {
    const other = Buffer.from([0, 0, 0x65, 0x53, 0xf1, 0x00]);
    const rdata = Buffer.concat([encodeName('hmac-sha256'), Buffer.alloc(6), u16(300), u16(0), u16(1), u16(18), u16(6), other]);
    const msg = decodeMessage(response({ rcode: 9, ar: [record(encodeName('k'), RRTYPE.TSIG, 0, rdata, RRCLASS.ANY)] }));
    assert.match(describeFailure(msg) ?? '', /TSIG BADTIME .*server time 2023-11-14T22:13:20.000Z/);
  });

  it('follows compression pointers and keeps the header flags', () => {
    const q = question('a.test', RRTYPE.SOA); // name at offset 12
    const an = record(Buffer.from([0xc0, 12]), RRTYPE.SOA, 60, soaRdata);
    const ns = record(Buffer.from([1, 0x62, 0xc0, 14]), RRTYPE.NS, 60, encodeName('ns.test')); // "b" + pointer to "test"
    const msg = decodeMessage(response({ id: 9, flags: 0x8000 | 0x0400 | 0x0100 | 0x0080, qd: [q], an: [an], ns: [ns] }));
    assert.deepEqual([msg.id, msg.qr, msg.aa, msg.tc, msg.rd, msg.ra, msg.opcode], [9, true, true, false, true, true, 0]);
    assert.equal(msg.answers[0]?.name, 'a.test.');
    assert.equal(msg.authority[0]?.name, 'b.test.');
  });

  it('returns only the header of a truncated (TC) answer', () => {
    const msg = decodeMessage(Buffer.concat([response({ flags: 0x8200, counts: [1, 5, 0, 0] }), Buffer.from([7, 1])]));
    assert.equal(msg.tc, true);
    assert.equal(msg.answers.length, 0);
  });

  const malformed: Array<[string, Buffer, RegExp]> = [
    ['empty', Buffer.alloc(0), /truncated DNS message: the header/],
    ['a short header', Buffer.alloc(11), /truncated/],
    ['more questions than bytes', response({ counts: [1, 0, 0, 0] }), /truncated DNS message: name at offset 12/],
    ['a label past the end', Buffer.concat([response({ counts: [1, 0, 0, 0] }), Buffer.from([9, 0x61])]), /label at offset 12 runs past the end/],
    ['a pointer loop', Buffer.concat([response({ counts: [1, 0, 0, 0] }), Buffer.from([0xc0, 12, 0, 1, 0, 1])]), /does not point backwards/],
    ['a forward pointer', Buffer.concat([response({ counts: [1, 0, 0, 0] }), Buffer.from([0xc0, 40, 0, 1, 0, 1])]), /does not point backwards/],
    ['a half pointer', Buffer.concat([response({ counts: [1, 0, 0, 0] }), Buffer.from([0xc0])]), /compression pointer at offset 12 runs past the end/],
    ['an extended label type', Buffer.concat([response({ counts: [1, 0, 0, 0] }), Buffer.from([0x41, 0, 0, 1, 0, 1])]), /unsupported label type 0x40/],
    ['a record length beyond the message', Buffer.concat([response({ counts: [0, 1, 0, 0] }), encodeName('a.test'), u16(16), u16(1), Buffer.alloc(4), u16(500), Buffer.from([1, 0x61])]), /type 16 record needs 500 bytes/],
    ['a record cut inside its fixed fields', Buffer.concat([response({ counts: [0, 1, 0, 0] }), encodeName('a.test'), u16(16)]), /record class/],
    ['trailing bytes', Buffer.concat([response({}), Buffer.from([1, 2, 3])]), /3 bytes after the last record/],
    [
      'a TSIG that is not last',
      response({ ar: [record(encodeName('k'), RRTYPE.TSIG, 0, Buffer.alloc(0), RRCLASS.ANY), record(encodeName('a'), RRTYPE.A, 0, Buffer.alloc(4))] }),
      /TSIG record that is not the last/,
    ],
    ['a TSIG in the answer section', response({ an: [record(encodeName('k'), RRTYPE.TSIG, 0, Buffer.alloc(0), RRCLASS.ANY)] }), /TSIG record that is not the last/],
    [
      'a TSIG whose MAC size lies',
      response({ ar: [record(encodeName('k'), RRTYPE.TSIG, 0, Buffer.concat([encodeName('hmac-sha256'), Buffer.alloc(6), u16(300), u16(200), Buffer.alloc(10)]), RRCLASS.ANY)] }),
      /the TSIG MAC needs 200 bytes/,
    ],
    [
      'a TSIG with bytes after its fields',
      response({ ar: [record(encodeName('k'), RRTYPE.TSIG, 0, Buffer.concat([encodeName('hmac-sha256'), Buffer.alloc(6), u16(300), u16(0), u16(1), u16(0), u16(0), Buffer.alloc(3)]), RRCLASS.ANY)] }),
      /TSIG record length does not match/,
    ],
    [
      'a name longer than 255 bytes built from pointers',
      (() => {
        // Each question's name is a 60-byte label plus a pointer to the previous question's name.
        const questions: Buffer[] = [];
        let offset = 12;
        let prev = -1;
        for (let i = 0; i < 5; i++) {
          const end = prev < 0 ? Buffer.from([0]) : Buffer.from([0xc0 | (prev >> 8), prev & 0xff]);
          const q = Buffer.concat([Buffer.from([60]), Buffer.alloc(60, 0x61), end, u16(RRTYPE.TXT), u16(RRCLASS.IN)]);
          questions.push(q);
          prev = offset;
          offset += q.length;
        }
        return response({ qd: questions });
      })(),
      /name at offset 279 is longer than 255 bytes/,
    ],
  ];
  for (const [what, buf, why] of malformed) {
    it(`rejects ${what}`, () => assert.throws(() => decodeMessage(buf), (e: unknown) => e instanceof DnsWireError && why.test(e.message)));
  }

  it('never reads outside the buffer: every prefix of real answers fails cleanly or decodes', () => {
    for (const full of [NAMED_ADD_RESPONSE, NAMED_BADSIG_RESPONSE, NSUPDATE_ADD]) {
      for (let n = 0; n < full.length; n++) {
        assert.throws(() => decodeMessage(full.subarray(0, n)), DnsWireError, `prefix of ${n} bytes`);
      }
      assert.doesNotThrow(() => decodeMessage(full));
    }
  });
});
