import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DirectorySyncs, TempFileRegistry, writeFileAtomic } from '../../../src/core/atomic-write.js';
import { BackupError } from '../../../src/core/errors.js';

describe('atomic file writes', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'azkvb-unit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const bytes = Buffer.from([1, 2, 3, 0, 255]);

  it('writes the exact bytes, owner-only, and leaves no temp file', async () => {
    const target = path.join(dir, 'a.blob');
    await writeFileAtomic(target, bytes, { force: false });
    assert.deepEqual(readFileSync(target), bytes);
    if (process.platform !== 'win32') assert.equal(statSync(target).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ['a.blob']);
  });

  it('never replaces an existing file without force, and keeps its bytes', async () => {
    const target = path.join(dir, 'a.blob');
    writeFileSync(target, 'old');
    await assert.rejects(writeFileAtomic(target, bytes, { force: false }), (e: unknown) => e instanceof BackupError && e.kind === 'FileExists');
    assert.equal(readFileSync(target, 'utf8'), 'old');
    assert.deepEqual(readdirSync(dir), ['a.blob']);
  });

  it('replaces an existing file with force, atomically, owner-only', async () => {
    const target = path.join(dir, 'a.blob');
    writeFileSync(target, 'old', { mode: 0o644 });
    await writeFileAtomic(target, bytes, { force: true });
    assert.deepEqual(readFileSync(target), bytes);
    if (process.platform !== 'win32') assert.equal(statSync(target).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ['a.blob']);
  });

  it('does not clobber a file that appears between the check and the write', async () => {
    const target = path.join(dir, 'race.blob');
    const registry = new TempFileRegistry();
    // The registry sees the temp file while it is being written; create the
    // target at that moment, as a competing writer would.
    const originalAdd = registry.add.bind(registry);
    registry.add = (file: string) => {
      originalAdd(file);
      writeFileSync(target, 'theirs');
    };
    await assert.rejects(writeFileAtomic(target, bytes, { force: false, registry }), (e: unknown) => e instanceof BackupError && e.kind === 'FileExists');
    assert.equal(readFileSync(target, 'utf8'), 'theirs');
    assert.deepEqual(readdirSync(dir), ['race.blob']);
    assert.deepEqual(registry.list(), []);
  });

  it('fails with Io, and leaves nothing, when the directory is missing or is a file', async () => {
    await assert.rejects(writeFileAtomic(path.join(dir, 'missing', 'a'), bytes, { force: false }), (e: unknown) => e instanceof BackupError && e.kind === 'Io');
    writeFileSync(path.join(dir, 'file'), 'x');
    await assert.rejects(writeFileAtomic(path.join(dir, 'file', 'a'), bytes, { force: false }), (e: unknown) => e instanceof BackupError && e.kind === 'Io');
    assert.deepEqual(readdirSync(dir), ['file']);
  });

  it('fails with Io when the target is a directory, even with force', async () => {
    mkdirSync(path.join(dir, 'd'));
    await assert.rejects(writeFileAtomic(path.join(dir, 'd'), bytes, { force: true }), (e: unknown) => e instanceof BackupError && e.kind === 'Io');
    assert.deepEqual(readdirSync(dir), ['d']);
  });

  it('fails with Io in a read-only directory (not as root, whom permission bits do not stop)', async function () {
    if (process.platform === 'win32' || process.getuid?.() === 0) this.skip(); // the test below proves the same path as root
    const ro = path.join(dir, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    await assert.rejects(writeFileAtomic(path.join(ro, 'a'), bytes, { force: false }), (e: unknown) => e instanceof BackupError && e.kind === 'Io' && /permission denied/.test(e.message));
    assert.deepEqual(readdirSync(ro), []);
  });

  for (const force of [false, true]) {
    it(`fails with Io, and leaves nothing, when the temp file cannot be created in an existing directory (any user${force ? ', with force' : ''})`, async () => {
      // The same failure as a read-only directory, which root can write to: the directory exists
      // and the target's own name is valid, but the temp file beside it cannot be created. Its name
      // is the target's with a prefix and a suffix, so a target name of 250 bytes gives a temp
      // name over the 255-byte limit of every common file system.
      const target = path.join(dir, `${'a'.repeat(245)}.blob`);
      writeFileSync(path.join(dir, 'other'), 'keep');
      await assert.rejects(
        writeFileAtomic(target, bytes, { force }),
        (e: unknown) => e instanceof BackupError && e.kind === 'Io' && e.code === 'ENAMETOOLONG' && e.message.includes(target) && /too long/.test(e.message),
      );
      assert.deepEqual(readdirSync(dir), ['other'], 'no target, no temp file');
      // The target name itself was fine: the failure is the temp file's.
      writeFileSync(target, 'fits');
    });
  }

  it('writes nothing when cancelled while the temp file is being written, and removes the temp file', async () => {
    const controller = new AbortController();
    const registry = new TempFileRegistry();
    const originalAdd = registry.add.bind(registry);
    registry.add = (file: string) => {
      originalAdd(file);
      controller.abort();
    };
    const target = path.join(dir, 'late.blob');
    await assert.rejects(writeFileAtomic(target, bytes, { force: false, signal: controller.signal, registry }));
    assert.deepEqual(readdirSync(dir), []);
    assert.deepEqual(registry.list(), []);
  });

  it('writes nothing once cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    const target = path.join(dir, 'a.blob');
    await assert.rejects(writeFileAtomic(target, bytes, { force: false, signal: controller.signal }));
    assert.deepEqual(readdirSync(dir), []);
  });
});

describe('directory syncs (group commit)', () => {
  it('shares one sync among renames made before it starts, and never lets a later rename ride on an earlier sync', async () => {
    const started: Array<() => void> = [];
    const syncs = new DirectorySyncs(
      () => new Promise<void>((resolve) => started.push(resolve)),
    );
    const order: string[] = [];
    const first = syncs.sync('/d').then(() => order.push('first'));
    await new Promise((r) => setImmediate(r));
    assert.equal(started.length, 1, 'the first caller starts a sync at once');
    // Two renames land while that sync runs: both need a later one, and share it.
    const second = syncs.sync('/d').then(() => order.push('second'));
    const third = syncs.sync('/d').then(() => order.push('third'));
    await new Promise((r) => setImmediate(r));
    assert.equal(started.length, 1, 'no second sync while the first runs');
    started[0]!();
    await first;
    await new Promise((r) => setImmediate(r));
    assert.equal(started.length, 2, 'one more sync for both waiting renames');
    assert.deepEqual(order, ['first']);
    started[1]!();
    await Promise.all([second, third]);
    assert.deepEqual(order, ['first', 'second', 'third']);
    // Another directory is independent.
    const other = syncs.sync('/e');
    await new Promise((r) => setImmediate(r));
    assert.equal(started.length, 3);
    started[2]!();
    await other;
  });
});
