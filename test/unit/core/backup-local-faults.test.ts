import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, lstatSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { backupItem, type BackupDependencies } from '../../../src/core/backup.js';
import { BackupError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';

describe('backupItem with a path the file system refuses', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'azkvb-backup-unit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // The same probes the CLI uses: they throw ENOTDIR for a path under a regular file.
  const deps = (): BackupDependencies => ({
    clientFor: () => ({ backup: async () => new Uint8Array([1, 2, 3]), restore: async () => assert.fail('no restore'), exists: async () => false }),
    addressing: { dnsSuffix: 'vault.azure.net' },
    now: () => 1_700_000_000_000,
    isAbsolute: path.isAbsolute,
    exists: (file) => lstatSync(file, { throwIfNoEntry: false }) !== undefined,
    logger: silentLogger,
  });

  for (const field of ['directory', 'outputFile'] as const) {
    it(`reports a ${field} under a regular file as WriteFailed, not an internal error`, async () => {
      const file = path.join(dir, 'a-file');
      writeFileSync(file, 'keep');
      const target = field === 'directory' ? file : path.join(file, 'x.blob');
      await assert.rejects(
        backupItem({ vaultName: 'myvault', name: 's', [field]: target, force: false }, deps()),
        (e: unknown) => e instanceof BackupError && e.kind === 'Io' && /not a directory/.test(e.message),
      );
    });
  }
});
