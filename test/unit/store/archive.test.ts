import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoError } from '../../../src/core/errors.js';
import { writeAll } from '../../../src/lib/atomic-write.js';
import {
  archiveVersions,
  currentPaths,
  currentVersion,
  lineageDir,
  lineageDirName,
  switchCurrent,
  versionPaths,
  writeArchiveVersion,
  type ArchiveFs,
  type CertPems,
} from '../../../src/store/archive.js';

const root = mkdtempSync(join(tmpdir(), 'certs-store-archive-'));
after(() => rmSync(root, { recursive: true, force: true }));
let seq = 0;
function freshDataDir(): string {
  const d = join(root, `t${++seq}`);
  mkdirSync(d);
  return d;
}

function pems(tag: string, privkey = `-----BEGIN PRIVATE KEY-----\nkey ${tag}\n-----END PRIVATE KEY-----\n`): CertPems {
  return {
    cert: `-----BEGIN CERTIFICATE-----\ncert ${tag}\n-----END CERTIFICATE-----\n`,
    chain: `-----BEGIN CERTIFICATE-----\nchain ${tag}\n-----END CERTIFICATE-----\n`,
    fullchain: `-----BEGIN CERTIFICATE-----\ncert ${tag}\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nchain ${tag}\n-----END CERTIFICATE-----\n`,
    privkey,
  };
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

/** What the four files of a version directory (or `current`) hold. */
function readPems(paths: { cert: string; chain: string; fullchain: string; privkey: string }): CertPems {
  return {
    cert: readFileSync(paths.cert, 'utf8'),
    chain: readFileSync(paths.chain, 'utf8'),
    fullchain: readFileSync(paths.fullchain, 'utf8'),
    privkey: readFileSync(paths.privkey, 'utf8'),
  };
}

function hidden(dir: string, prefix: string): string[] {
  return readdirSync(dir).filter((n) => n.startsWith(prefix));
}

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
}

/** Passes every write through, except that `failOn` throws `error()`. */
function failingFs(failOn: string, error: () => Error): ArchiveFs & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    writeFile(fd, data, name) {
      seen.push(name);
      if (name === failOn) throw error();
      writeAll(fd, data);
    },
  };
}

function ioError(code: string, ...messages: RegExp[]): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof IoError, `expected an IoError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    for (const m of messages) assert.match(err.message, m);
    assert.doesNotMatch(err.message, /\n\s+at /, 'no stack trace in the message');
    return true;
  };
}

describe('lineageDirName', () => {
  const ok: Array<[string, string]> = [
    ['example.com', 'example.com'],
    ['*.example.com', '_.example.com'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example'],
    ['192.0.2.1', '192.0.2.1'],
    ['2001:db8::1', '2001-db8--1'],
  ];
  for (const [lineage, dir] of ok) it(`${lineage} → ${dir}`, () => assert.equal(lineageDirName(lineage), dir));

  const refused = ['../x', 'a/b', '', '..', '.', '.hidden', 'a..b', '/etc', 'a\0b', '*', 'foo.*.com', 'a b', 'x'.repeat(261)];
  for (const lineage of refused) {
    it(`refuses ${JSON.stringify(lineage.length > 20 ? `${lineage.slice(0, 8)}… (${lineage.length})` : lineage)}`, () => {
      assert.throws(() => lineageDirName(lineage), ioError('invalid-lineage', /cannot be used as a directory name/));
    });
  }

  it('refuses an invalid lineage before touching the disk', () => {
    const dataDir = freshDataDir();
    for (const lineage of ['../x', 'a/b', '']) {
      assert.throws(() => writeArchiveVersion(dataDir, lineage, pems('x')), ioError('invalid-lineage', new RegExp(JSON.stringify(lineage).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))));
      assert.throws(() => switchCurrent(dataDir, lineage, 1), ioError('invalid-lineage'));
      assert.throws(() => currentVersion(dataDir, lineage), ioError('invalid-lineage'));
    }
    assert.deepEqual(readdirSync(dataDir), [], 'nothing created');
    assert.equal(existsSync(join(root, 'x')), false);
  });
});

describe('writeArchiveVersion and switchCurrent', () => {
  it('numbers versions 1, 2, 3 and switches current between them', () => {
    const dataDir = freshDataDir();
    const lineage = 'example.com';
    assert.equal(currentVersion(dataDir, lineage), null, 'no current before the first write');
    assert.deepEqual(archiveVersions(dataDir, lineage), []);

    for (const n of [1, 2, 3]) {
      const { version, paths } = writeArchiveVersion(dataDir, lineage, pems(`v${n}`));
      assert.equal(version, n);
      assert.deepEqual(paths, versionPaths(dataDir, lineage, n));
      assert.equal(paths.dir, join(dataDir, 'certs', 'example.com', 'archive', String(n)));
      assert.deepEqual(readPems(paths), pems(`v${n}`));
      // Writing a version does not move current.
      assert.equal(currentVersion(dataDir, lineage), n === 1 ? null : n - 1);
      switchCurrent(dataDir, lineage, n);
      assert.equal(currentVersion(dataDir, lineage), n);
      assert.equal(readlinkSync(join(lineageDir(dataDir, lineage), 'current')), `archive/${n}`, 'relative link: the data dir may move');
      assert.deepEqual(readPems(currentPaths(dataDir, lineage)), pems(`v${n}`));
    }
    assert.deepEqual(archiveVersions(dataDir, lineage), [1, 2, 3]);

    // Back to an older version (rollback): current follows, the archive keeps everything.
    switchCurrent(dataDir, lineage, 2);
    assert.equal(currentVersion(dataDir, lineage), 2);
    assert.deepEqual(readPems(currentPaths(dataDir, lineage)), pems('v2'));
    assert.deepEqual(readPems(versionPaths(dataDir, lineage, 3)), pems('v3'));
  });

  it('keeps the private key 0600 and every directory 0700', () => {
    const dataDir = freshDataDir();
    const { paths } = writeArchiveVersion(dataDir, 'example.com', pems('m'));
    switchCurrent(dataDir, 'example.com', 1);
    assert.equal(mode(paths.privkey), 0o600);
    for (const f of [paths.cert, paths.chain, paths.fullchain]) assert.equal(mode(f) & ~0o644, 0, `${f} is at most 0644`);
    for (const d of [join(dataDir, 'certs'), lineageDir(dataDir, 'example.com'), join(lineageDir(dataDir, 'example.com'), 'archive'), paths.dir]) {
      assert.equal(mode(d), 0o700, d);
    }
    assert.equal(mode(currentPaths(dataDir, 'example.com').privkey), 0o600, 'through the current link too');
  });

  it('stores a wildcard lineage under "_."', () => {
    const dataDir = freshDataDir();
    const { paths } = writeArchiveVersion(dataDir, '*.example.com', pems('w'));
    switchCurrent(dataDir, '*.example.com', 1);
    assert.equal(paths.dir, join(dataDir, 'certs', '_.example.com', 'archive', '1'));
    assert.deepEqual(readdirSync(join(dataDir, 'certs')), ['_.example.com']);
    assert.equal(currentVersion(dataDir, '*.example.com'), 1);
    assert.equal(currentPaths(dataDir, '*.example.com').privkey, join(dataDir, 'certs', '_.example.com', 'current', 'privkey.pem'));
    assert.deepEqual(readPems(currentPaths(dataDir, '*.example.com')), pems('w'));
  });

  it('respects minVersion, and never goes below the newest version on disk', () => {
    const dataDir = freshDataDir();
    const cases: Array<[number | undefined, number]> = [
      [5, 5], // the database knows of versions up to 4 the disk lost
      [undefined, 6],
      [3, 7], // minVersion below the archive: the archive wins
      [7, 8],
      [20, 20],
    ];
    for (const [minVersion, expected] of cases) {
      const { version } = writeArchiveVersion(dataDir, 'example.com', pems(`min${expected}`), minVersion === undefined ? {} : { minVersion });
      assert.equal(version, expected, `minVersion ${String(minVersion)}`);
    }
    assert.deepEqual(archiveVersions(dataDir, 'example.com'), [5, 6, 7, 8, 20]);
  });

  it('never overwrites an existing numbered directory', () => {
    const dataDir = freshDataDir();
    writeArchiveVersion(dataDir, 'example.com', pems('v1'));
    const archive = join(lineageDir(dataDir, 'example.com'), 'archive');
    mkdirSync(join(archive, '2'));
    writeFileSync(join(archive, '2', 'cert.pem'), 'put here by hand\n');

    const { version } = writeArchiveVersion(dataDir, 'example.com', pems('v3'));
    assert.equal(version, 3);
    assert.deepEqual(readdirSync(join(archive, '2')), ['cert.pem']);
    assert.equal(readFileSync(join(archive, '2', 'cert.pem'), 'utf8'), 'put here by hand\n');
    assert.deepEqual(readPems(versionPaths(dataDir, 'example.com', 3)), pems('v3'));
  });

  it('takes the next number when another writer claims it while this one writes', () => {
    const dataDir = freshDataDir();
    writeArchiveVersion(dataDir, 'example.com', pems('v1'));
    const archive = join(lineageDir(dataDir, 'example.com'), 'archive');
    // The other writer renames its complete version 2 into place while ours is still writing.
    const racing: ArchiveFs = {
      writeFile(fd, data, name) {
        writeAll(fd, data);
        if (name === 'fullchain.pem') {
          mkdirSync(join(archive, '2'));
          writeFileSync(join(archive, '2', 'cert.pem'), 'the other writer\n');
        }
      },
    };
    const { version } = writeArchiveVersion(dataDir, 'example.com', pems('mine'), { fs: racing });
    assert.equal(version, 3);
    assert.equal(readFileSync(join(archive, '2', 'cert.pem'), 'utf8'), 'the other writer\n');
    assert.deepEqual(readPems(versionPaths(dataDir, 'example.com', 3)), pems('mine'));
    assert.deepEqual(hidden(archive, '.tmp-'), []);
  });

  it('removes stale temp directories a crash left behind', () => {
    const dataDir = freshDataDir();
    writeArchiveVersion(dataDir, 'example.com', pems('v1'));
    const archive = join(lineageDir(dataDir, 'example.com'), 'archive');
    // A process killed half-way through writing: a hidden temp dir with some of the files.
    for (const stale of ['.tmp-99999-0123456789ab', '.tmp-1-deadbeef0000']) {
      mkdirSync(join(archive, stale), { mode: 0o700 });
      writeFileSync(join(archive, stale, 'privkey.pem'), 'half-written key', { mode: 0o600 });
    }
    assert.equal(hidden(archive, '.tmp-').length, 2);
    assert.deepEqual(archiveVersions(dataDir, 'example.com'), [1], 'temp dirs are not versions');

    const { version } = writeArchiveVersion(dataDir, 'example.com', pems('v2'));
    assert.equal(version, 2);
    assert.deepEqual(readdirSync(archive).sort(), ['1', '2']);
  });

  it('leaves no .current-* litter, whether switching works or fails', () => {
    const dataDir = freshDataDir();
    const lineage = 'example.com';
    const base = lineageDir(dataDir, lineage);
    for (let i = 1; i <= 3; i++) writeArchiveVersion(dataDir, lineage, pems(`v${i}`));
    for (const v of [1, 2, 3, 1, 3]) {
      switchCurrent(dataDir, lineage, v);
      assert.deepEqual(readdirSync(base).sort(), ['archive', 'current']);
      assert.ok(lstatSync(join(base, 'current')).isSymbolicLink());
    }

    // `current` turned into a real directory by hand: the rename cannot replace it.
    rmSync(join(base, 'current'));
    mkdirSync(join(base, 'current'));
    writeFileSync(join(base, 'current', 'cert.pem'), 'by hand\n');
    assert.throws(() => switchCurrent(dataDir, lineage, 2), ioError('write-failed', /current still points at the previous version/));
    assert.deepEqual(hidden(base, '.current-'), []);
    assert.equal(readFileSync(join(base, 'current', 'cert.pem'), 'utf8'), 'by hand\n');
  });

  it('reads a missing or foreign current as "no version"', () => {
    const dataDir = freshDataDir();
    writeArchiveVersion(dataDir, 'example.com', pems('v1'));
    const base = lineageDir(dataDir, 'example.com');
    assert.equal(currentVersion(dataDir, 'example.com'), null);
    symlinkSync('/etc/ssl/somewhere', join(base, 'current'));
    assert.equal(currentVersion(dataDir, 'example.com'), null, 'a link not into archive/');
    rmSync(join(base, 'current'));
    mkdirSync(join(base, 'current'));
    assert.equal(currentVersion(dataDir, 'example.com'), null, 'a directory, not a link');
  });
});

describe('writeArchiveVersion failures', () => {
  it('an injected ENOSPC on fullchain.pem leaves no version, no temp dir, and current as it was', () => {
    const dataDir = freshDataDir();
    const lineage = 'example.com';
    writeArchiveVersion(dataDir, lineage, pems('v1'));
    switchCurrent(dataDir, lineage, 1);
    const archive = join(lineageDir(dataDir, lineage), 'archive');
    const fs = failingFs('fullchain.pem', enospc);

    let caught: unknown;
    try {
      writeArchiveVersion(dataDir, lineage, pems('v2'), { fs });
    } catch (err) {
      caught = err;
    }
    assert.ok(
      ioError('disk-full', /^domain "example\.com": cannot write .*fullchain\.pem: the disk is full \(ENOSPC\)/, /the current certificate was not changed$/)(caught),
    );
    assert.equal((caught as IoError).cause instanceof Error && ((caught as IoError).cause as NodeJS.ErrnoException).code, 'ENOSPC', 'keeps the cause');
    assert.deepEqual(fs.seen, ['privkey.pem', 'cert.pem', 'chain.pem', 'fullchain.pem'], 'the key is written first, fullchain last');
    assert.deepEqual(readdirSync(archive), ['1'], 'no numbered dir, no temp dir');
    assert.equal(currentVersion(dataDir, lineage), 1);
    assert.deepEqual(readPems(currentPaths(dataDir, lineage)), pems('v1'));

    // The next write (disk freed) takes number 2: the failed attempt used none.
    assert.equal(writeArchiveVersion(dataDir, lineage, pems('v2')).version, 2);
  });

  const others: Array<[string, string, string, RegExp]> = [
    ['EIO', 'privkey.pem', 'write-failed', /cannot write .*privkey\.pem: EIO: i\/o error/],
    ['EDQUOT', 'cert.pem', 'write-failed', /cannot write .*cert\.pem: disk quota exceeded \(EDQUOT\)/],
    ['EROFS', 'chain.pem', 'write-failed', /cannot write .*chain\.pem: read-only file system/],
  ];
  for (const [code, file, expected, message] of others) {
    it(`reports ${code} on ${file} as ${expected}, leaving nothing behind`, () => {
      const dataDir = freshDataDir();
      const fs = failingFs(file, () => Object.assign(new Error(`${code}: ${code === 'EIO' ? 'i/o error' : 'failed'}, write`), { code }));
      assert.throws(() => writeArchiveVersion(dataDir, 'example.com', pems('x'), { fs }), ioError(expected, message, /the current certificate was not changed$/));
      assert.deepEqual(readdirSync(join(lineageDir(dataDir, 'example.com'), 'archive')), []);
      assert.equal(currentVersion(dataDir, 'example.com'), null);
    });
  }
});

describe('writeArchiveVersion on a really full disk', () => {
  /** A tmpfs of `size` mounted on a fresh dir; null when this system does not let us mount (EPERM). */
  function mountTmpfs(size: string): { dir: string; skipReason?: string } {
    const dir = mkdtempSync(join(tmpdir(), 'certs-full-'));
    const res = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
    if (res.status === 0) return { dir };
    rmSync(dir, { recursive: true, force: true });
    const why = `${res.error?.message ?? ''} ${res.stderr}`.replace(/\s+/g, ' ').trim();
    if (/EPERM|operation not permitted|permission denied|only root|must be superuser/i.test(why)) {
      return { dir, skipReason: `cannot mount a tmpfs here (${why}); run as root to test a real ENOSPC` };
    }
    throw new Error(`mount -t tmpfs failed (${String(res.status)}): ${why}`);
  }

  function unmount(dir: string): void {
    const res = spawnSync('umount', [dir], { encoding: 'utf8' });
    assert.equal(res.status, 0, `umount ${dir}: ${res.stderr}`);
    rmSync(dir, { recursive: true, force: true });
  }

  /** Fills the file system with `file` until ENOSPC, then gives `keep` bytes back. */
  function fillUp(file: string, keep: number): void {
    const fd = openSync(file, 'w');
    const block = Buffer.alloc(4096, 0x61);
    let size = 0;
    try {
      for (;;) {
        try {
          size += writeSync(fd, block);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
        assert.ok(size < 64 * 1024 * 1024, 'the tmpfs size limit did not apply');
      }
    } finally {
      closeSync(fd);
    }
    truncateSync(file, Math.max(0, size - keep));
  }

  it('fails with disk-full and keeps current and its files intact', (t) => {
    const mounted = mountTmpfs('64k');
    if (mounted.skipReason) {
      t.skip(mounted.skipReason);
      return;
    }
    const dataDir = mounted.dir;
    try {
      const lineage = 'example.com';
      writeArchiveVersion(dataDir, lineage, pems('v1'));
      switchCurrent(dataDir, lineage, 1);
      const before = readPems(currentPaths(dataDir, lineage));
      const filler = join(dataDir, 'filler');
      fillUp(filler, 8192);

      // A key far larger than what is left (RSA keys are ~3 kB; this is 256 kB).
      const big = pems('v2', `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(256 * 1024)}\n-----END PRIVATE KEY-----\n`);
      assert.throws(
        () => writeArchiveVersion(dataDir, lineage, big),
        ioError('disk-full', /^domain "example\.com": cannot write .*: the disk is full \(ENOSPC\); the current certificate was not changed$/),
      );
      assert.equal(currentVersion(dataDir, lineage), 1);
      assert.deepEqual(readPems(currentPaths(dataDir, lineage)), before);
      assert.deepEqual(readPems(versionPaths(dataDir, lineage, 1)), pems('v1'));
      assert.deepEqual(readdirSync(join(lineageDir(dataDir, lineage), 'archive')), ['1'], 'no numbered dir, no temp dir');

      // Space freed: the same write now succeeds as version 2.
      rmSync(filler);
      const small = pems('v2');
      assert.equal(writeArchiveVersion(dataDir, lineage, small).version, 2);
      switchCurrent(dataDir, lineage, 2);
      assert.deepEqual(readPems(currentPaths(dataDir, lineage)), small);
    } finally {
      unmount(dataDir);
    }
  });
});
