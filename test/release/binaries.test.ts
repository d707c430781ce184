import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.js';
import { packagedExe, RIDS, type Rid } from './support.js';

// What postject writes into a Node binary: the blob under this resource name, and the sentinel
// fuse flipped from :0 to :1 so the binary runs the blob instead of acting as plain node.
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const BLOB = 'NODE_SEA_BLOB';

interface Format {
  format: 'ELF' | 'PE' | 'Mach-O';
  arch: string;
  segments?: string[];
  codeSignature?: boolean;
  securityDirectory?: { offset: number; size: number };
}

const ELF_MACHINES: Record<number, string> = { 0x3e: 'x64', 0xb7: 'arm64' };
const MACHO_CPUS: Record<number, string> = { 0x01000007: 'x64', 0x0100000c: 'arm64' };

/** Reads just enough of a header to say what a binary is; independent of the build's own code. */
function readHeader(buf: Buffer): Format {
  if (buf.readUInt32BE(0) === 0x7f454c46) {
    assert.equal(buf[4], 2, 'ELF64');
    assert.equal(buf[5], 1, 'little-endian');
    return { format: 'ELF', arch: ELF_MACHINES[buf.readUInt16LE(18)] ?? `machine ${buf.readUInt16LE(18)}` };
  }
  if (buf.toString('latin1', 0, 2) === 'MZ') {
    const pe = buf.readUInt32LE(0x3c);
    assert.equal(buf.toString('latin1', pe, pe + 4), 'PE\0\0');
    const machine = buf.readUInt16LE(pe + 4);
    const optional = pe + 24;
    assert.equal(buf.readUInt16LE(optional), 0x20b, 'PE32+');
    // Data directory 4 (certificates) of a PE32+ optional header: where an Authenticode signature lives.
    const security = optional + 112 + 4 * 8;
    return {
      format: 'PE',
      arch: machine === 0x8664 ? 'x64' : `machine ${machine.toString(16)}`,
      securityDirectory: { offset: buf.readUInt32LE(security), size: buf.readUInt32LE(security + 4) },
    };
  }
  if (buf.readUInt32LE(0) === 0xfeedfacf) {
    const cpu = buf.readUInt32LE(4);
    const ncmds = buf.readUInt32LE(16);
    const segments: string[] = [];
    let codeSignature = false;
    let p = 32;
    for (let i = 0; i < ncmds; i++) {
      const cmd = buf.readUInt32LE(p);
      if (cmd === 0x19) segments.push(buf.toString('latin1', p + 8, p + 24).replace(/\0+$/, '')); // LC_SEGMENT_64
      if (cmd === 0x1d) codeSignature = true; // LC_CODE_SIGNATURE
      p += buf.readUInt32LE(p + 4);
    }
    return { format: 'Mach-O', arch: MACHO_CPUS[cpu] ?? `cpu ${cpu.toString(16)}`, segments, codeSignature };
  }
  return { format: 'ELF', arch: `unknown magic ${buf.subarray(0, 4).toString('hex')}` };
}

const EXPECTED: Record<Rid, { format: Format['format']; arch: string }> = {
  'linux-x64': { format: 'ELF', arch: 'x64' },
  'linux-arm64': { format: 'ELF', arch: 'arm64' },
  'win-x64': { format: 'PE', arch: 'x64' },
  'darwin-x64': { format: 'Mach-O', arch: 'x64' },
  'darwin-arm64': { format: 'Mach-O', arch: 'arm64' },
};

describe('release: the five executables as shipped', function () {
  const files = new Map<Rid, Buffer>();

  before(function () {
    for (const rid of RIDS) files.set(rid, readFileSync(packagedExe(rid)));
  });

  for (const rid of RIDS) {
    it(`${rid}: is ${EXPECTED[rid].format} for ${EXPECTED[rid].arch}, carries the program and has the SEA fuse flipped`, function () {
      const buf = files.get(rid)!;
      const got = readHeader(buf);
      assert.deepEqual({ format: got.format, arch: got.arch }, EXPECTED[rid]);
      assert.ok(buf.includes(`${FUSE}:1`), 'fuse flipped to :1');
      assert.ok(!buf.includes(`${FUSE}:0`), 'no unflipped fuse left');
      // The program itself: the preparation blob the build made for this rid, byte for byte (the
      // resource name alone proves nothing: stock Node binaries contain that string too).
      const blob = readFileSync(join(repoRoot(), '.cache', 'sea', rid, 'sea-prep.blob'));
      assert.ok(blob.length > 100_000, 'a blob with the bundled program');
      assert.ok(buf.includes(blob), `the ${BLOB} bytes are in the executable`);
      assert.ok(buf.length > 50e6 && buf.length < 160e6, `plausible size (${buf.length})`);
    });
  }

  for (const rid of ['darwin-x64', 'darwin-arm64'] as const) {
    it(`${rid}: has a NODE_SEA segment and no code signature left to be invalid (so codesign --sign - is needed once)`, function () {
      const got = readHeader(files.get(rid)!);
      assert.ok(got.segments?.includes('NODE_SEA'), `segments: ${got.segments?.join(', ')}`);
      assert.ok(got.segments?.includes('__LINKEDIT'));
      assert.equal(got.codeSignature, false);
    });
  }

  it("win-x64: the Node binary's Authenticode signature is removed, not left broken", function () {
    const got = readHeader(files.get('win-x64')!);
    assert.deepEqual(got.securityDirectory, { offset: 0, size: 0 });
    // The binary it was made from was signed, so the removal was needed and happened.
    const nodeVersion = /NODE_VERSION = '([^']+)'/.exec(readFileSync(join(repoRoot(), 'build', 'node-runtime.mjs'), 'utf8'))?.[1];
    assert.ok(nodeVersion, 'build/node-runtime.mjs names the Node version');
    const original = join(repoRoot(), '.cache', 'node', nodeVersion, 'win-x64', 'bin', 'node.exe');
    assert.ok(existsSync(original), `${original}: the binary the build started from`);
    const signed = readHeader(readFileSync(original));
    assert.ok((signed.securityDirectory?.size ?? 0) > 0, 'the official node.exe is signed');
  });
});
