import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { VaultItemClient } from '../../../src/core/backup.js';
import { BackupError } from '../../../src/core/errors.js';
import type { ItemKind } from '../../../src/core/item-kind.js';
import type { Logger } from '../../../src/core/logger.js';
import { nameInConflict, readFileCapped, restoreItem, type RestoreDependencies } from '../../../src/core/restore.js';
import type { RestoredItem } from '../../../src/core/restored-item.js';

// restoreItem with a stand-in for the transport (the VaultItemClient seam, not the SDK) and real files.
describe('restoring one backup file', () => {
  let dir: string;
  let file: string;
  let verbose: string[];
  let sent: Array<{ vaultName: string; hsm?: boolean; kind: ItemKind; bytes: string }>;
  let looked: string[];
  let slept: number[];
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'azkvb-restore-'));
    file = path.join(dir, 'v1x-db-1764383221.4137');
    writeFileSync(file, 'blob-bytes');
    verbose = [];
    sent = [];
    looked = [];
    slept = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const conflict = (message: string, inner?: string) =>
    Object.assign(new Error(message), { statusCode: 409, details: { error: { code: 'Conflict', message, ...(inner !== undefined ? { innererror: { code: inner } } : {}) } } });

  function deps(answers: Array<() => Promise<RestoredItem>>, present: (name: string) => Promise<boolean> = async () => true): RestoreDependencies {
    const logger: Logger = { warning: () => undefined, verbose: (m) => verbose.push(m), debug: () => undefined };
    const client = (vaultName: string, hsm?: boolean): VaultItemClient => ({
      backup: async () => assert.fail('a restore never backs up'),
      restore: async (kind, bytes) => {
        sent.push({ vaultName, ...(hsm !== undefined ? { hsm } : {}), kind, bytes: Buffer.from(bytes).toString() });
        const next = answers.shift();
        if (next === undefined) return assert.fail('more restores than answers');
        return next();
      },
      exists: async (_kind, name) => {
        looked.push(name);
        return present(name);
      },
    });
    return {
      clientFor: (vaultName, location) => client(vaultName, location?.hsm),
      isAbsolute: path.isAbsolute,
      readFile: readFileCapped,
      logger,
      sleep: async (ms) => {
        slept.push(ms);
      },
      purgeWaitMs: 30_000,
      maxBackupBytes: 1024,
    };
  }

  const restored = (name: string): RestoredItem => ({ kind: 'secret', vaultName: 'v1x', name, version: '01' });
  const failsWith = (kind: string, errorId?: string) => (e: unknown) => e instanceof BackupError && e.kind === kind && (errorId === undefined || e.errorId === errorId);

  it('can restore a secret from a file, sending its exact bytes to the vault named', async () => {
    const item = await restoreItem({ vaultName: 'v1x', inputFile: file }, deps([async () => restored('db')]));
    assert.equal(item.name, 'db');
    assert.deepEqual(sent, [{ vaultName: 'v1x', kind: 'secret', bytes: 'blob-bytes' }]);
  });

  it('can restore a key into a Managed HSM', async () => {
    await restoreItem({ kind: 'key', hsmName: 'hsm1', inputFile: file }, deps([async () => ({ kind: 'key', vaultName: 'hsm1', name: 'k' })]));
    assert.deepEqual(sent, [{ vaultName: 'hsm1', hsm: true, kind: 'key', bytes: 'blob-bytes' }]);
  });

  it('reports a missing input file as InputFileNotFound, in Az words, and sends nothing', async () => {
    const missing = path.join(dir, 'nope.blob');
    await assert.rejects(restoreItem({ vaultName: 'v1x', inputFile: missing }, deps([])), (e: unknown) => failsWith('InputNotFound', 'InputFileNotFound')(e) && (e as Error).message.includes(`Cannot find backup secret file '${missing}'`));
    await assert.rejects(restoreItem({ kind: 'key', vaultName: 'v1x', inputFile: missing }, deps([])), (e: unknown) => (e as Error).message.includes('Cannot find backup key file'));
    await assert.rejects(restoreItem({ kind: 'certificate', vaultName: 'v1x', inputFile: missing }, deps([])), (e: unknown) => (e as Error).message.includes('Cannot find backup file'));
    await assert.rejects(restoreItem({ vaultName: 'v1x', inputFile: path.join(file, 'below') }, deps([])), failsWith('InputNotFound'));
    mkdirSync(path.join(dir, 'folder'));
    await assert.rejects(restoreItem({ vaultName: 'v1x', inputFile: path.join(dir, 'folder') }, deps([])), failsWith('InputNotFound'));
    assert.deepEqual(sent, []);
  });

  it('refuses an empty or oversized file as InvalidBackup, and a relative path as InvalidArgument, before any call', async () => {
    writeFileSync(file, '');
    await assert.rejects(restoreItem({ vaultName: 'v1x', inputFile: file }, deps([])), failsWith('InvalidBackup', 'InvalidBackup'));
    writeFileSync(file, Buffer.alloc(1025));
    await assert.rejects(restoreItem({ vaultName: 'v1x', inputFile: file }, deps([])), failsWith('InvalidBackup'));
    await assert.rejects(restoreItem({ vaultName: 'v1x', inputFile: 'relative.blob' }, deps([])), failsWith('InvalidArgument'));
    await assert.rejects(restoreItem({ vaultName: 'bad_vault', inputFile: file }, deps([])), failsWith('InvalidArgument'));
    await assert.rejects(restoreItem({ kind: 'secret', hsmName: 'hsm1', inputFile: file }, deps([])), failsWith('InvalidArgument'));
    assert.deepEqual(sent, []);
  });

  it('reports a name in use as ItemExists at once, having looked that it is there', async () => {
    await assert.rejects(
      restoreItem({ vaultName: 'v1x', inputFile: file }, deps([async () => Promise.reject(conflict('Secret db already exists.'))])),
      (e: unknown) => failsWith('Exists', 'ItemExists')(e) && (e as BackupError).category === 'ResourceExists' && (e as Error).message.includes('Secret db already exists.'),
    );
    assert.deepEqual(looked, ['db']);
    assert.deepEqual(slept, []);
  });

  it('reports a soft-deleted name as ItemSoftDeleted, naming the way out, without retrying', async () => {
    await assert.rejects(
      restoreItem({ kind: 'key', vaultName: 'v1x', inputFile: file }, deps([async () => Promise.reject(conflict('Key k is currently in a deleted but recoverable state, and its name cannot be reused.', 'ObjectIsDeletedButRecoverable'))])),
      (e: unknown) => failsWith('SoftDeleted', 'ItemSoftDeleted')(e) && (e as BackupError).category === 'ResourceUnavailable' && /Undo-AzKeyVaultKeyRemoval/.test((e as Error).message),
    );
    assert.equal(sent.length, 1);
  });

  it('waits out the 409 of a name just purged (nothing there), with growing pauses, under -Verbose', async () => {
    const lingering = async () => Promise.reject(conflict('Secret db already exists.'));
    const item = await restoreItem({ vaultName: 'v1x', inputFile: file }, deps([lingering, lingering, lingering, async () => restored('db')], async () => false));
    assert.equal(item.name, 'db');
    assert.deepEqual(slept, [500, 1000, 2000]);
    assert.equal(sent.length, 4);
    assert.ok(verbose.some((m) => /purge of it is still finishing/.test(m)), verbose.join('\n'));
  });

  it('retries a name being recovered, and gives up after the bound with the vault words', async () => {
    const busy = async () => Promise.reject(conflict('Secret db is currently being recovered and cannot be re-created; retry later.', 'ObjectIsBeingRecovered'));
    const d = deps(Array.from({ length: 50 }, () => busy));
    d.purgeWaitMs = 3_000;
    let clock = 0;
    d.sleep = async (ms) => {
      slept.push(ms);
      clock += ms;
    };
    const realNow = Date.now;
    Date.now = () => realNow() + clock;
    try {
      await assert.rejects(restoreItem({ vaultName: 'v1x', inputFile: file }, d), (e: unknown) => failsWith('Exists')(e) && /being recovered/.test((e as Error).message));
    } finally {
      Date.now = realNow;
    }
    assert.deepEqual(slept, [500, 1000]);
  });

  it('reads the item name from a 409 only in the plain form', () => {
    assert.equal(nameInConflict('Secret db-1 already exists.', 'secret'), 'db-1');
    assert.equal(nameInConflict("Key 'k' already exists.", 'key'), 'k');
    assert.equal(nameInConflict('Certificate tls is in use', 'secret'), undefined);
    assert.equal(nameInConflict('Conflict.', 'secret'), undefined);
    assert.equal(nameInConflict(undefined, 'key'), undefined);
  });

  it('reports a refused blob as InvalidBackup, and a cancelled restore as aborted', async () => {
    const malformed = Object.assign(new Error('Malformed backup blob.'), { statusCode: 400, details: { error: { code: 'BadParameter', message: 'Malformed backup blob.' } } });
    await assert.rejects(restoreItem({ vaultName: 'v1x', inputFile: file }, deps([async () => Promise.reject(malformed)])), (e: unknown) => failsWith('InvalidBackup')(e) && (e as BackupError).category === 'InvalidData');
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(restoreItem({ vaultName: 'v1x', inputFile: file }, deps([]), controller.signal), (e: unknown) => e instanceof BackupError && e.code === 'Aborted');
  });
});
