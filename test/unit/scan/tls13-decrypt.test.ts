// TLS 1.3 record protection (tls13-decrypt.ts) and the ServerFlightParser's TLS 1.3 path.
// Known answers come from RFC 8448 §3 ("Simple 1-RTT Handshake"); synthetic flights are sealed
// here with node:crypto directly, with the nonce built independently of the code under test.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHmac, hkdfSync, X509Certificate } from 'node:crypto';
import {
  deriveTrafficKeys,
  hkdfExpand,
  hkdfExpandLabel,
  parseKeylogLine,
  parseTls13CertificateList,
  TLS13_CIPHER_SUITES,
  Tls13RecordDecrypter,
  type Tls13CipherSuite,
} from '../../../src/scan/tls13-decrypt.js';
import { PENDING_SLACK_BYTES, ServerFlightParser } from '../../../src/scan/tls-records.js';
import { handshake, record, splitEvery, u16, u24 } from '../../helpers/tls-bytes.js';

const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// ---- RFC 8448 §3 values ----

const RFC = {
  earlySecret: h('33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a'),
  derivedForHandshake: h('6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba'),
  handshakeSecret: h('1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac'),
  /** Transcript hash of ClientHello..ServerHello. */
  helloHash: h('860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8'),
  clientHsSecret: h('b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21'),
  serverHsSecret: h('b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38'),
  serverHsKey: h('3fce516009c21727d0f2e4e86ee403bc'),
  serverHsIv: h('5d313eb2671276ee13000b30'),
  clientHsKey: h('dbfaa693d1762c5b666af5d950258d01'),
  clientHsIv: h('5bd3c71b836e0b76bb73265f'),
  serverAppSecret: h('a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643'),
  serverAppKey: h('9f02283b6c9c07efc26bb9f2ac92e356'),
  serverAppIv: h('cf782b88dd83549aadf1e984'),
  clientRandom: h('cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7'),
  serverHelloRecord: h(`
    160303005a020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e269280013
    0100002e00330024001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304`),
  /** EncryptedExtensions, Certificate, CertificateVerify and Finished in one record (679 bytes). */
  serverFlightRecord: h(`
    17030302a2d1ff334a56f5bff6594a07cc87b580233f500f45e489e7f33af35edf7869fcf40aa40aa2b8ea73f848a7ca
    07612ef9f945cb960b4068905123ea78b111b429ba9191cd05d2a389280f526134aadc7fc78c4b729df828b5ecf7b13b
    d9aefb0e57f271585b8ea9bb355c7c79020716cfb9b1183ef3ab20e37d57a6b9d7477609aee6e122a4cf51427325250c
    7d0e509289444c9b3a648f1d71035d2ed65b0e3cdd0cbae8bf2d0b227812cbb360987255cc744110c453baa4fcd61092
    8d809810e4b7ed1a8fd991f06aa6248204797e36a6a73b70a2559c09ead686945ba246ab66e5edd8044b4c6de3fcf2a8
    9441ac66272fd8fb330ef8190579b3684596c960bd596eea520a56a8d650f563aad27409960dca63d3e688611ea5e22f
    4415cf9538d51a200c27034272968a264ed6540c84838d89f72c24461aad6d26f59ecaba9acbbb317b66d902f4f292a3
    6ac1b639c637ce343117b659622245317b49eeda0c6258f100d7d961ffb138647e92ea330faeea6dfa31c7a84dc3bd7e
    1b7a6c7178af36879018e3f252107f243d243dc7339d5684c8b0378bf30244da8c87c843f5e56eb4c5e8280a2b48052c
    f93b16499a66db7cca71e4599426f7d461e66f99882bd89fc50800becca62d6c74116dbd2972fda1fa80f85df881edbe
    5a37668936b335583b599186dc5c6918a396fa48a181d6b6fa4f9d62d513afbb992f2b992f67f8afe67f76913fa388cb
    5630c8ca01e0c65d11c66a1e2ac4c85977b7c7a6999bbf10dc35ae69f5515614636c0b9b68c19ed2e31c0b3b66763038
    ebba42f3b38edc0399f3a9f23faa63978c317fc9fa66a73f60f0504de93b5b845e275592c12335ee340bbc4fddd50278
    4016e4b3be7ef04dda49f4b440a30cb5d2af939828fd4ae3794e44f94df5a631ede42c1719bfdabf0253fe5175be898e
    750edc53370d2b`),
};

const suite = (id: number): Tls13CipherSuite => {
  const s = TLS13_CIPHER_SUITES.get(id);
  assert.ok(s, `suite 0x${id.toString(16)}`);
  return s;
};
const AES128 = 0x1301;

// ---- byte builders (TLS wire format) ----





const HRR_RANDOM = h('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c');
const ccs = record(20, Buffer.from([1]));

function serverHello13(cipherSuite: number, random: Buffer = Buffer.alloc(32, 0x42)): Buffer {
  const exts = Buffer.concat([u16(43), u16(2), u16(0x0304), u16(51), u16(4), u16(0x001d), u16(0)]);
  const body = Buffer.concat([u16(0x0303), random, Buffer.from([32]), Buffer.alloc(32, 0x5e), u16(cipherSuite), Buffer.from([0]), u16(exts.length), exts]);
  return record(22, handshake(2, body));
}

/** A TLS 1.3 Certificate message; every entry carries a small extension, as stapled OCSP would. */
function certificate13(ders: Buffer[], context = Buffer.alloc(0)): Buffer {
  const entries = Buffer.concat(ders.flatMap((d) => [u24(d.length), d, u16(6), u16(5), u16(2), Buffer.from([0xee, 0xee])]));
  return handshake(11, Buffer.concat([Buffer.from([context.length]), context, u24(entries.length), entries]));
}

const encryptedExtensions = handshake(8, u16(0));
const certificateRequest = handshake(13, Buffer.concat([Buffer.from([0]), u16(0)]));
const certificateVerify = handshake(15, Buffer.concat([u16(0x0403), u16(8), Buffer.alloc(8, 0x77)]));
const finished = (s: Tls13CipherSuite): Buffer => handshake(20, Buffer.alloc(s.hashLength, 0x99));

/** Seals TLS 1.3 records the way a server does, one sequence number per record. */
class Sealer {
  private seq = 0;
  private readonly key: Buffer;
  private readonly iv: Buffer;
  constructor(private readonly s: Tls13CipherSuite, secret: Buffer) {
    ({ key: this.key, iv: this.iv } = deriveTrafficKeys(s, secret));
  }

  seal(type: number, content: Buffer, padding = 0): Buffer {
    const inner = Buffer.concat([content, Buffer.from([type]), Buffer.alloc(padding)]);
    const header = Buffer.concat([Buffer.from([23, 3, 3]), u16(inner.length + 16)]);
    const seq = Buffer.alloc(12);
    seq.writeBigUInt64BE(BigInt(this.seq++), 4);
    const nonce = Buffer.from(this.iv.map((b, i) => b ^ (seq[i] ?? 0)));
    const aead = this.s.aead;
    const c = aead === 'chacha20-poly1305'
      ? createCipheriv(aead, this.key, nonce, { authTagLength: 16 })
      : createCipheriv(aead, this.key, nonce, { authTagLength: 16 });
    c.setAAD(header, { plaintextLength: inner.length });
    return Buffer.concat([header, c.update(inner), c.final(), c.getAuthTag()]);
  }

  /** Handshake bytes cut into records of at most `size` bytes. */
  sealHandshake(bytes: Buffer, size: number, padding = 0): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += size) out.push(this.seal(22, bytes.subarray(i, i + size), padding));
    return out;
  }
}

const SECRET48 = Buffer.alloc(48, 0x2b);
const SECRET32 = Buffer.alloc(32, 0x3c);
const secretFor = (s: Tls13CipherSuite): Buffer => (s.hashLength === 48 ? SECRET48 : SECRET32);

/** Recognisable fake DER: the parser does not look inside. */
const certA = Buffer.alloc(700, 0xa1);
const certB = Buffer.alloc(1200, 0xb2);
const certC = Buffer.alloc(40, 0xc3);


interface Flight {
  hello: Buffer;
  encrypted: Buffer;
}

function flight(s: Tls13CipherSuite, certs: Buffer[], opts: { recordSize?: number; padding?: number; withRequest?: boolean } = {}): Flight {
  const sealer = new Sealer(s, secretFor(s));
  const messages = Buffer.concat([
    encryptedExtensions,
    ...(opts.withRequest ? [certificateRequest] : []),
    certificate13(certs),
    certificateVerify,
    finished(s),
  ]);
  return { hello: serverHello13(s.id), encrypted: Buffer.concat(sealer.sealHandshake(messages, opts.recordSize ?? 16384, opts.padding ?? 0)) };
}

const assertCerts = (p: ServerFlightParser, expected: Buffer[]): void => {
  assert.equal(p.error, null, p.error?.message);
  assert.equal(p.tls13Failure, null);
  assert.ok(p.certificates, 'certificate message seen');
  assert.deepEqual(p.certificates.map((d) => d.toString('hex')), expected.map((d) => d.toString('hex')));
};

// ---- key schedule ----

describe('HKDF-Expand-Label against RFC 8448 §3', () => {
  it('server handshake key and iv from the server handshake traffic secret', () => {
    const keys = deriveTrafficKeys(suite(AES128), RFC.serverHsSecret);
    assert.equal(keys.key.toString('hex'), RFC.serverHsKey.toString('hex'));
    assert.equal(keys.iv.toString('hex'), RFC.serverHsIv.toString('hex'));
  });

  it('client handshake and server application keys too', () => {
    const client = deriveTrafficKeys(suite(AES128), RFC.clientHsSecret);
    assert.equal(client.key.toString('hex'), RFC.clientHsKey.toString('hex'));
    assert.equal(client.iv.toString('hex'), RFC.clientHsIv.toString('hex'));
    const app = deriveTrafficKeys(suite(AES128), RFC.serverAppSecret);
    assert.equal(app.key.toString('hex'), RFC.serverAppKey.toString('hex'));
    assert.equal(app.iv.toString('hex'), RFC.serverAppIv.toString('hex'));
  });

  it('with a context: "s hs traffic" over the hello transcript hash gives the server handshake secret', () => {
    const out = hkdfExpandLabel('sha256', RFC.handshakeSecret, 's hs traffic', RFC.helloHash, 32);
    assert.equal(out.toString('hex'), RFC.serverHsSecret.toString('hex'));
    const client = hkdfExpandLabel('sha256', RFC.handshakeSecret, 'c hs traffic', RFC.helloHash, 32);
    assert.equal(client.toString('hex'), RFC.clientHsSecret.toString('hex'));
  });

  it('"derived" from the early secret with the hash of an empty transcript', () => {
    const emptyHash = h('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const out = hkdfExpandLabel('sha256', RFC.earlySecret, 'derived', emptyHash, 32);
    assert.equal(out.toString('hex'), RFC.derivedForHandshake.toString('hex'));
  });

  it('HKDF-Expand alone agrees with node:crypto\'s Extract+Expand, over several blocks', () => {
    const ikm = Buffer.alloc(22, 0x0b);
    const salt = h('000102030405060708090a0b0c');
    const info = h('f0f1f2f3f4f5f6f7f8f9');
    for (const [hash, length] of [['sha256', 42], ['sha256', 32], ['sha384', 100], ['sha384', 1]] as const) {
      const prk = createHmac(hash, salt).update(ikm).digest();
      const expected = Buffer.from(hkdfSync(hash, ikm, salt, info, length));
      assert.equal(hkdfExpand(hash, prk, info, length).toString('hex'), expected.toString('hex'), `${hash} ${length}`);
    }
  });

  it('refuses lengths HKDF cannot produce', () => {
    assert.throws(() => hkdfExpand('sha256', SECRET32, Buffer.alloc(0), 255 * 32 + 1), RangeError);
    assert.throws(() => hkdfExpand('sha256', SECRET32, Buffer.alloc(0), 0), RangeError);
  });

  it('key and iv lengths per suite (RFC 8446 §B.4)', () => {
    const expected: Record<number, [number, number]> = { 0x1301: [16, 12], 0x1302: [32, 12], 0x1303: [32, 12] };
    for (const [id, [keyLen, ivLen]] of Object.entries(expected)) {
      const s = suite(Number(id));
      const k = deriveTrafficKeys(s, secretFor(s));
      assert.equal(k.key.length, keyLen, s.name);
      assert.equal(k.iv.length, ivLen, s.name);
    }
  });
});

describe('key log lines', () => {
  it('reads the line Node emits, trailing newline included', () => {
    const line = Buffer.from(`SERVER_HANDSHAKE_TRAFFIC_SECRET ${RFC.clientRandom.toString('hex')} ${RFC.serverHsSecret.toString('hex')}\n`);
    const entry = parseKeylogLine(line);
    assert.equal(entry?.label, 'SERVER_HANDSHAKE_TRAFFIC_SECRET');
    assert.ok(entry?.clientRandom.equals(RFC.clientRandom));
    assert.ok(entry?.secret.equals(RFC.serverHsSecret));
  });

  it('ignores what is not a key log line', () => {
    for (const bad of ['', '# comment', 'CLIENT_RANDOM abc def', `X ${'0'.repeat(64)} 0`, `X ${'0'.repeat(63)} 00`]) {
      assert.equal(parseKeylogLine(bad), null, bad);
    }
  });
});

// ---- records ----

describe('Tls13RecordDecrypter', () => {
  it('opens the RFC 8448 server flight record: EncryptedExtensions, Certificate, CertificateVerify, Finished', () => {
    const d = new Tls13RecordDecrypter(suite(AES128), RFC.serverHsSecret);
    const opened = d.open(RFC.serverFlightRecord.subarray(0, 5), RFC.serverFlightRecord.subarray(5));
    assert.ok(typeof opened !== 'string', String(opened));
    assert.equal(opened.type, 22);
    assert.equal(opened.content.length, 657);
    const types: number[] = [];
    for (let off = 0; off < opened.content.length; off += 4 + opened.content.readUIntBE(off + 1, 3)) types.push(opened.content[off] ?? -1);
    assert.deepEqual(types, [8, 11, 15, 20]);
    assert.equal(d.sequence, 1);
  });

  for (const s of TLS13_CIPHER_SUITES.values()) {
    it(`${s.name}: opens records in sequence, strips padding, reads the inner type`, () => {
      const sealer = new Sealer(s, secretFor(s));
      const d = new Tls13RecordDecrypter(s, secretFor(s));
      const records = [sealer.seal(22, Buffer.from('first')), sealer.seal(21, Buffer.from([2, 80]), 40), sealer.seal(22, Buffer.from('third'))];
      const opened = records.map((r) => d.open(r.subarray(0, 5), r.subarray(5)));
      assert.deepEqual(opened, [
        { type: 22, content: Buffer.from('first') },
        { type: 21, content: Buffer.from([2, 80]) },
        { type: 22, content: Buffer.from('third') },
      ]);
    });
  }

  it('the sequence number is part of the nonce: a record out of order fails authentication', () => {
    const s = suite(AES128);
    const sealer = new Sealer(s, SECRET32);
    const [r0, r1] = [sealer.seal(22, Buffer.from('a')), sealer.seal(22, Buffer.from('b'))] as [Buffer, Buffer];
    const d = new Tls13RecordDecrypter(s, SECRET32);
    assert.match(String(d.open(r1.subarray(0, 5), r1.subarray(5))), /record 1 failed authentication under TLS_AES_128_GCM_SHA256 \(bad_record_mac\)/);
    void r0;
  });

  it('a tampered header (the additional data) or body fails authentication', () => {
    const s = suite(0x1303);
    const r = new Sealer(s, SECRET32).seal(22, Buffer.from('payload'));
    const header = Buffer.from(r.subarray(0, 5));
    header[2] = 1;
    assert.match(String(new Tls13RecordDecrypter(s, SECRET32).open(header, r.subarray(5))), /bad_record_mac/);
    const body = Buffer.from(r.subarray(5));
    body[0] = (body[0] ?? 0) ^ 1;
    assert.match(String(new Tls13RecordDecrypter(s, SECRET32).open(r.subarray(0, 5), body)), /bad_record_mac/);
  });

  it('rejects a record too short for a tag, one over the TLS 1.3 limit, and one that is all padding', () => {
    const s = suite(AES128);
    const d = new Tls13RecordDecrypter(s, SECRET32);
    assert.match(String(d.open(Buffer.from([23, 3, 3, 0, 16]), Buffer.alloc(16))), /too short/);
    assert.match(String(d.open(Buffer.from([23, 3, 3, 0x41, 0x01]), Buffer.alloc(16384 + 257))), /exceeds the TLS 1\.3 limit/);
    const sealer = new Sealer(s, SECRET32);
    const allPadding = sealer.seal(0, Buffer.alloc(0), 10);
    assert.match(String(new Tls13RecordDecrypter(s, SECRET32).open(allPadding.subarray(0, 5), allPadding.subarray(5))), /all padding/);
  });

  it('refuses a secret of the wrong length for the suite', () => {
    assert.throws(() => new Tls13RecordDecrypter(suite(0x1302), SECRET32), /TLS_AES_256_GCM_SHA384 traffic secret has 48 bytes, got 32/);
  });
});

describe('parseTls13CertificateList', () => {
  it('reads entries with extensions and a request context', () => {
    const msg = certificate13([certA, certB], Buffer.from([1, 2, 3]));
    assert.deepEqual(parseTls13CertificateList(msg.subarray(4)), [certA, certB]);
  });

  it('reports what is wrong', () => {
    const body = certificate13([certC]).subarray(4);
    assert.match(String(parseTls13CertificateList(Buffer.alloc(0))), /no request context/);
    assert.match(String(parseTls13CertificateList(body.subarray(0, body.length - 1))), /list announces/);
    assert.match(String(parseTls13CertificateList(Buffer.concat([Buffer.from([0]), u24(5), u24(0), u16(0)]))), /certificate 1 is empty/);
    assert.match(String(parseTls13CertificateList(Buffer.concat([Buffer.from([0]), u24(5), u24(1), Buffer.from([9]), Buffer.from([0])]))), /truncated extensions length/);
  });
});

// ---- the parser's TLS 1.3 path ----

describe('ServerFlightParser under TLS 1.3: RFC 8448 flight', () => {
  const rsaLeaf = (p: ServerFlightParser): void => {
    assert.equal(p.error, null, p.error?.message);
    assert.equal(p.tls13Failure, null);
    assert.equal(p.certificates?.length, 1);
    const cert = new X509Certificate(p.certificates?.[0] as Buffer);
    assert.equal(cert.subject, 'CN=rsa');
    assert.equal(p.finished, true, 'stops at the server Finished');
    assert.equal(p.bufferedBytes, 0);
  };

  it('secret after the whole flight (how Node delivers it): the waiting records are opened', () => {
    const p = new ServerFlightParser();
    p.push(Buffer.concat([RFC.serverHelloRecord, RFC.serverFlightRecord]));
    assert.equal(p.encrypted, true);
    assert.equal(p.certificates, null);
    assert.equal(p.bufferedBytes, RFC.serverFlightRecord.length);
    p.setServerHandshakeSecret(RFC.serverHsSecret);
    rsaLeaf(p);
  });

  it('secret between ServerHello and the encrypted record', () => {
    const p = new ServerFlightParser();
    p.push(RFC.serverHelloRecord);
    p.setServerHandshakeSecret(RFC.serverHsSecret);
    p.push(RFC.serverFlightRecord);
    rsaLeaf(p);
  });

  it('secret before anything: kept until the ServerHello names the suite', () => {
    const p = new ServerFlightParser();
    p.setServerHandshakeSecret(RFC.serverHsSecret);
    p.push(RFC.serverHelloRecord);
    p.push(RFC.serverFlightRecord);
    rsaLeaf(p);
  });

  it('one byte at a time, the secret arriving mid-record', () => {
    const p = new ServerFlightParser();
    const bytes = Buffer.concat([RFC.serverHelloRecord, RFC.serverFlightRecord]);
    const cut = RFC.serverHelloRecord.length + 300;
    for (const b of splitEvery(bytes.subarray(0, cut), 1)) p.push(b);
    p.setServerHandshakeSecret(RFC.serverHsSecret);
    for (const b of splitEvery(bytes.subarray(cut), 1)) p.push(b);
    rsaLeaf(p);
  });

  it('the wrong secret: no chain, a tls13Failure saying why, and no error (the handshake may still succeed)', () => {
    const p = new ServerFlightParser();
    p.push(Buffer.concat([RFC.serverHelloRecord, RFC.serverFlightRecord]));
    p.setServerHandshakeSecret(RFC.clientHsSecret);
    assert.equal(p.error, null);
    assert.equal(p.certificates, null);
    assert.match(p.tls13Failure ?? '', /bad_record_mac/);
    assert.equal(p.bufferedBytes, 0);
  });
});

describe('ServerFlightParser under TLS 1.3: synthetic flights', () => {
  for (const s of TLS13_CIPHER_SUITES.values()) {
    it(`${s.name}: order kept, across many small padded records, fed in odd chunks`, () => {
      const f = flight(s, [certC, certA, certB], { recordSize: 100, padding: 3, withRequest: true });
      const p = new ServerFlightParser();
      p.push(f.hello);
      p.push(ccs);
      const chunks = splitEvery(f.encrypted, 7);
      const half = Math.floor(chunks.length / 2);
      for (const c of chunks.slice(0, half)) p.push(c);
      p.setServerHandshakeSecret(secretFor(s));
      for (const c of chunks.slice(half)) p.push(c);
      assertCerts(p, [certC, certA, certB]);
      assert.equal(p.serverHello?.cipherSuite, s.id);
    });
  }

  it('HelloRetryRequest, its dummy ChangeCipherSpec, then the real ServerHello', () => {
    const s = suite(0x1302);
    const f = flight(s, [certA, certB]);
    const p = new ServerFlightParser();
    p.push(serverHello13(s.id, HRR_RANDOM));
    p.push(ccs);
    assert.equal(p.serverHello?.helloRetryRequest, true);
    assert.equal(p.encrypted, false, 'a ChangeCipherSpec after a HelloRetryRequest changes nothing');
    assert.equal(p.finished, false);
    p.push(f.hello);
    p.push(ccs);
    p.push(f.encrypted);
    p.setServerHandshakeSecret(secretFor(s));
    assertCerts(p, [certA, certB]);
    assert.equal(p.serverHello?.helloRetryRequest, false);
  });

  it('wantsServerHandshakeSecret: only between a TLS 1.3 ServerHello and its secret', () => {
    const s = suite(AES128);
    const p = new ServerFlightParser();
    assert.equal(p.wantsServerHandshakeSecret, false);
    p.push(serverHello13(s.id, HRR_RANDOM));
    assert.equal(p.wantsServerHandshakeSecret, false, 'a HelloRetryRequest has no keys');
    p.push(serverHello13(s.id));
    assert.equal(p.wantsServerHandshakeSecret, true);
    p.setServerHandshakeSecret(SECRET32);
    assert.equal(p.wantsServerHandshakeSecret, false);
    const p12 = new ServerFlightParser();
    p12.push(record(22, handshake(2, Buffer.concat([u16(0x0303), Buffer.alloc(32), Buffer.from([0]), u16(0xc02f), Buffer.from([0])]))));
    assert.equal(p12.serverHello?.versionName, 'TLSv1.2');
    assert.equal(p12.wantsServerHandshakeSecret, false);
  });

  it('a Certificate header announcing 16 MiB is refused at the header, with the secret known', () => {
    const s = suite(AES128);
    const sealer = new Sealer(s, SECRET32);
    const p = new ServerFlightParser();
    p.push(serverHello13(s.id));
    p.setServerHandshakeSecret(SECRET32);
    p.push(sealer.seal(22, Buffer.concat([encryptedExtensions, Buffer.from([11, 0xff, 0xff, 0xff]), Buffer.alloc(1000)])));
    assert.equal(p.error?.reason, 'too-large');
    assert.equal(p.error?.message, 'certificate message of 16777215 bytes exceeds the 1 MiB limit');
    assert.equal(p.bufferedBytes, 0);
  });

  it('the same refusal when the secret comes after the records', () => {
    const s = suite(AES128);
    const sealer = new Sealer(s, SECRET32);
    const p = new ServerFlightParser({ maxCertBytes: 1000 });
    p.push(serverHello13(s.id));
    p.push(sealer.seal(22, Buffer.concat([encryptedExtensions, certificate13([certA, certB])])));
    assert.equal(p.error, null);
    p.setServerHandshakeSecret(SECRET32);
    // Read through a function: the assertion above narrowed p.error to null for the compiler.
    const error = (q: ServerFlightParser): ServerFlightParser['error'] => q.error;
    assert.equal(error(p)?.reason, 'too-large');
    assert.match(error(p)?.message ?? '', /^certificate message of \d+ bytes exceeds the 1000 bytes limit$/);
    assert.equal(p.bufferedBytes, 0);
  });

  it('never holds more than the limit plus the slack while waiting for the secret', () => {
    const s = suite(AES128);
    const sealer = new Sealer(s, SECRET32);
    const max = 1000;
    const p = new ServerFlightParser({ maxCertBytes: max });
    p.push(serverHello13(s.id));
    let peak = 0;
    for (let i = 0; i < 20 && p.tls13Failure === null; i++) {
      p.push(sealer.seal(23, Buffer.alloc(16000)));
      peak = Math.max(peak, p.bufferedBytes);
    }
    assert.ok(peak <= max + PENDING_SLACK_BYTES, `peak ${peak}`);
    assert.match(p.tls13Failure ?? '', /of encrypted handshake arrived before Node reported the handshake secret/);
    assert.equal(p.error, null);
    assert.equal(p.bufferedBytes, 0);
  });

  it('a large chain: reassembled across records, memory near one message', () => {
    const s = suite(AES128);
    const big = Array.from({ length: 30 }, (_, i) => Buffer.alloc(3000, i + 1));
    const f = flight(s, big, { recordSize: 16384 });
    const p = new ServerFlightParser();
    p.push(f.hello);
    p.setServerHandshakeSecret(SECRET32);
    let peak = 0;
    for (const c of splitEvery(f.encrypted, 4096)) {
      p.push(c);
      peak = Math.max(peak, p.bufferedBytes);
    }
    assertCerts(p, big);
    const messageBytes = certificate13(big).length;
    assert.ok(peak <= messageBytes + 16384 + 256 + 5, `peak ${peak} for a ${messageBytes}-byte message`);
  });

  it('an encrypted fatal alert is decoded and ends the stream', () => {
    const s = suite(AES128);
    const sealer = new Sealer(s, SECRET32);
    const p = new ServerFlightParser();
    p.push(serverHello13(s.id));
    p.setServerHandshakeSecret(SECRET32);
    p.push(Buffer.concat([sealer.seal(22, encryptedExtensions), sealer.seal(21, Buffer.from([2, 42]))]));
    assert.deepEqual(p.alert, { level: 'fatal', levelCode: 2, description: 42, name: 'bad_certificate' });
    assert.equal(p.finished, true);
  });

  it('after the server Finished, nothing more is read (tickets, 0.5-RTT data, even garbage)', () => {
    const s = suite(AES128);
    const f = flight(s, [certA]);
    const p = new ServerFlightParser();
    p.push(f.hello);
    p.setServerHandshakeSecret(SECRET32);
    p.push(f.encrypted);
    p.push(record(23, Buffer.alloc(50, 0x12)));
    p.push(Buffer.from('HTTP/1.1 garbage'));
    assertCerts(p, [certA]);
    assert.equal(p.end(), null);
  });

  it('failures that only lose the order: unknown suite, compressed certificate, no Certificate, stray content', () => {
    const s = suite(AES128);
    const cases: Array<{ name: string; build: (sealer: Sealer) => Buffer; id?: number; expected: RegExp }> = [
      { name: 'CCM suite', id: 0x1304, build: () => Buffer.alloc(0), expected: /cipher suite 0x1304, which the probe cannot decrypt/ },
      { name: 'compressed', build: (x) => x.seal(22, Buffer.concat([encryptedExtensions, handshake(25, Buffer.alloc(10))])), expected: /compressed Certificate message \(RFC 8879\)/ },
      { name: 'no Certificate', build: (x) => x.seal(22, Buffer.concat([encryptedExtensions, finished(s)])), expected: /finished its TLS 1\.3 handshake without a Certificate message/ },
      { name: 'application data', build: (x) => x.seal(23, Buffer.from('early')), expected: /content type 23 came before the server Finished/ },
      { name: 'unexpected message', build: (x) => x.seal(22, handshake(4, Buffer.alloc(8))), expected: /unexpected NewSessionTicket message in the encrypted server flight/ },
      { name: 'malformed Certificate', build: (x) => x.seal(22, handshake(11, Buffer.from([0, 0, 0, 9]))), expected: /malformed TLS 1\.3 Certificate message/ },
    ];
    for (const c of cases) {
      const p = new ServerFlightParser();
      p.push(serverHello13(c.id ?? s.id));
      p.setServerHandshakeSecret(SECRET32);
      p.push(c.build(new Sealer(s, SECRET32)));
      assert.match(p.tls13Failure ?? '', c.expected, c.name);
      assert.equal(p.error, null, c.name);
      assert.equal(p.finished, true, c.name);
    }
  });

  it('plaintext handshake bytes after a TLS 1.3 ServerHello are not taken for the chain', () => {
    const s = suite(AES128);
    const hello = serverHello13(s.id);
    const plainCert = handshake(11, Buffer.concat([u24(certA.length + 3), u24(certA.length), certA]));
    const p = new ServerFlightParser();
    // In the ServerHello's own record, and in a record of its own.
    p.push(record(22, Buffer.concat([hello.subarray(5), plainCert])));
    p.push(record(22, plainCert));
    assert.equal(p.certificates, null);
    assert.equal(p.error, null);
    assert.equal(p.encrypted, true);
  });
});
