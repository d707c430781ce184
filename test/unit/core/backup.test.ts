import { strict as assert } from 'node:assert';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { backupItem, normaliseRequest, type BackupDependencies, type BackupRequest } from '../../../src/core/backup.js';
import { BackupError } from '../../../src/core/errors.js';
import type { Logger } from '../../../src/core/logger.js';

// backupItem with a stand-in for the transport (the VaultItemClient seam, not the SDK) and a
// real temporary folder: validation, where the file goes, the overwrite rule, cancellation and
// how a transport failure is reported. test/unit/backup-local-faults.test.ts has the paths the
// file system refuses.

const NOW = 1_700_000_000_123;
const BLOB = new Uint8Array([0x29, 0x41, 0, 255, 7]);

describe('backing up one secret', () => {
  let dir: string;
  let calls: Array<{ vaultName: string; dnsSuffix: string | undefined; name: string; kind: string; hsm: boolean | undefined }>;
  let verbose: string[];
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'azkvb-backup-'));
    calls = [];
    verbose = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function deps(answer: () => Promise<Uint8Array> = async () => BLOB): BackupDependencies {
    const logger: Logger = { warning: () => undefined, verbose: (m) => verbose.push(m), debug: () => undefined };
    return {
      clientFor: (vaultName, location) => ({
        backup: async (kind, name) => {
          calls.push({ vaultName, dnsSuffix: location?.dnsSuffix, name, kind, hsm: location?.hsm });
          return answer();
        },
        restore: async () => assert.fail('a backup never restores'),
        exists: async () => assert.fail('a backup never looks'),
      }),
      addressing: { dnsSuffix: 'vault.azure.net' },
      now: () => NOW,
      isAbsolute: path.isAbsolute,
      exists: (file) => lstatSync(file, { throwIfNoEntry: false }) !== undefined,
      logger,
    };
  }

  const invalid = (message: RegExp) => (e: unknown) => e instanceof BackupError && e.kind === 'InvalidArgument' && message.test(e.message);

  it("writes the vault's bytes to the default name in a directory, and says where", async () => {
    const outcome = await backupItem({ vaultName: 'MyVault', name: 'Db-Password', directory: dir, force: false }, deps());
    const file = path.join(dir, 'myvault-db-password-1700000000.123');
    assert.deepEqual(outcome, { vaultName: 'MyVault', name: 'Db-Password', path: file, bytes: BLOB.byteLength });
    assert.deepEqual(readFileSync(file), Buffer.from(BLOB));
    assert.deepEqual(calls, [{ vaultName: 'MyVault', dnsSuffix: undefined, name: 'Db-Password', kind: 'secret', hsm: undefined }]);
    assert.deepEqual(verbose, [`Backing up secret 'Db-Password' from vault 'MyVault' to '${file}'.`, `Wrote 5 bytes to '${file}'.`]);
  });

  it('writes to an output file as given', async () => {
    const file = path.join(dir, 'exact.blob');
    const outcome = await backupItem({ vaultName: 'myvault', name: 's', outputFile: file, force: false }, deps());
    assert.equal(outcome.path, file);
    assert.deepEqual(readdirSync(dir), ['exact.blob']);
  });

  it('backs up the secret a secret identifier names, from the cloud it names', async () => {
    await backupItem({ secretId: 'https://myvault.vault.azure.cn/secrets/s/0123abcd', directory: dir, force: false }, deps());
    assert.deepEqual(calls, [{ vaultName: 'myvault', dnsSuffix: 'vault.azure.cn', name: 's', kind: 'secret', hsm: undefined }]);
    await backupItem({ secretId: 'https://myvault.vault.azure.net/secrets/t', directory: dir, force: false }, deps());
    assert.deepEqual(calls[1], { vaultName: 'myvault', dnsSuffix: undefined, name: 't', kind: 'secret', hsm: undefined }, 'the configured cloud needs no suffix of its own');
  });

  it('refuses to replace an existing file without force before asking the vault, and keeps it', async () => {
    const file = path.join(dir, 'kept.blob');
    writeFileSync(file, 'old');
    await assert.rejects(backupItem({ vaultName: 'myvault', name: 's', outputFile: file, force: false }, deps()), (e: unknown) => e instanceof BackupError && e.kind === 'FileExists');
    assert.deepEqual(calls, [], 'a refused overwrite costs no vault call');
    assert.equal(readFileSync(file, 'utf8'), 'old');
  });

  it('replaces an existing file with force', async () => {
    const file = path.join(dir, 'replaced.blob');
    writeFileSync(file, 'old');
    await backupItem({ vaultName: 'myvault', name: 's', outputFile: file, force: true }, deps());
    assert.deepEqual(readFileSync(file), Buffer.from(BLOB));
  });

  it('does nothing once cancelled, not even ask the vault', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(backupItem({ vaultName: 'myvault', name: 's', directory: dir, force: false }, deps(), controller.signal), (e: unknown) => e instanceof BackupError && e.kind === 'Network' && e.code === 'Aborted');
    assert.deepEqual(calls, []);
    assert.deepEqual(readdirSync(dir), []);
  });

  it("reports the transport's failure as its kind, naming the secret, and writes nothing", async () => {
    const notFound = Object.assign(new Error('A secret with (name/id) s was not found in this key vault.'), { name: 'RestError', statusCode: 404, code: 'SecretNotFound' });
    await assert.rejects(backupItem({ vaultName: 'myvault', name: 's', directory: dir, force: false }, deps(async () => Promise.reject(notFound))), (e: unknown) => e instanceof BackupError && e.kind === 'NotFound' && e.status === 404);
    const forbidden = Object.assign(new Error('Caller is not authorized.'), { name: 'RestError', statusCode: 403 });
    await assert.rejects(backupItem({ vaultName: 'myvault', name: 's', directory: dir, force: false }, deps(async () => Promise.reject(forbidden))), (e: unknown) => e instanceof BackupError && e.kind === 'Forbidden' && /secret 's' in vault 'myvault'/.test(e.message));
    assert.deepEqual(readdirSync(dir), []);
  });

  it("passes the transport's own BackupError on as it is", async () => {
    const own = new BackupError('Service', 'The vault answered 200 with an empty body.', { code: 'InvalidResponse', status: 200 });
    await assert.rejects(backupItem({ vaultName: 'myvault', name: 's', directory: dir, force: false }, deps(async () => Promise.reject(own))), (e: unknown) => e instanceof BackupError && e.code === 'InvalidResponse');
  });

  describe('validating a request before any I/O', () => {
    const check = (request: Partial<BackupRequest>) => () => normaliseRequest({ force: false, ...request }, { addressing: { dnsSuffix: 'vault.azure.net' }, isAbsolute: path.isAbsolute });

    it('names the secret from names or from an identifier', () => {
      assert.deepEqual(check({ vaultName: 'myvault', name: 's', directory: '/d' })(), { vaultName: 'myvault', name: 's' });
      assert.deepEqual(check({ secretId: 'https://myvault.vault.azure.net/secrets/s', directory: '/d' })(), { vaultName: 'myvault', name: 's' });
    });

    it('takes an identifier or names, not both', () => {
      assert.throws(check({ secretId: 'https://myvault.vault.azure.net/secrets/s', name: 's', directory: '/d' }), invalid(/either a secret identifier or a vault and secret name, not both/));
      assert.throws(check({ secretId: 'https://myvault.vault.azure.net/secrets/s', vaultName: 'myvault', directory: '/d' }), invalid(/not both/));
    });

    it('refuses invalid names', () => {
      assert.throws(check({ vaultName: 'x', name: 's', directory: '/d' }), (e: unknown) => e instanceof BackupError && e.kind === 'InvalidArgument');
      assert.throws(check({ vaultName: 'myvault', name: 'no spaces', directory: '/d' }), (e: unknown) => e instanceof BackupError && e.kind === 'InvalidArgument');
    });

    it('takes exactly one of an output file and a directory', () => {
      assert.throws(check({ vaultName: 'myvault', name: 's' }), invalid(/exactly one of an output file or a directory/));
      assert.throws(check({ vaultName: 'myvault', name: 's', outputFile: '/f', directory: '/d' }), invalid(/exactly one/));
    });

    it('takes only an absolute path without NUL', () => {
      for (const target of ['relative/f', '', '/a\0b']) {
        assert.throws(check({ vaultName: 'myvault', name: 's', outputFile: target }), invalid(/must be an absolute path/), JSON.stringify(target));
        assert.throws(check({ vaultName: 'myvault', name: 's', directory: target }), invalid(/must be an absolute path/), JSON.stringify(target));
      }
    });
  });

  it('can back up a key and a certificate, each with its kind, into the default name', async () => {
    const key = await backupItem({ kind: 'key', vaultName: 'myvault', name: 'signing', directory: dir, force: false }, deps());
    const cert = await backupItem({ kind: 'certificate', vaultName: 'myvault', name: 'tls', directory: dir, force: false }, deps());
    assert.equal(path.basename(key.path), `myvault-signing-${NOW / 1000}`);
    assert.equal(path.basename(cert.path), `myvault-tls-${NOW / 1000}`);
    assert.deepEqual(calls.map((c) => [c.kind, c.name]), [['key', 'signing'], ['certificate', 'tls']]);
  });

  it('can back up a key of a Managed HSM, named after the HSM', async () => {
    const outcome = await backupItem({ kind: 'key', hsmName: 'myhsm', name: 'k', directory: dir, force: false }, deps());
    assert.equal(path.basename(outcome.path), `myhsm-k-${NOW / 1000}`);
    assert.deepEqual(calls, [{ vaultName: 'myhsm', dnsSuffix: undefined, name: 'k', kind: 'key', hsm: true }]);
  });

  it('refuses a Managed HSM for secrets and certificates, and a secret URI for other kinds, before any call', async () => {
    await assert.rejects(backupItem({ kind: 'secret', hsmName: 'myhsm', name: 'k', directory: dir, force: false }, deps()), invalid(/holds keys only/));
    await assert.rejects(backupItem({ kind: 'certificate', hsmName: 'myhsm', name: 'k', directory: dir, force: false }, deps()), invalid(/holds keys only/));
    await assert.rejects(backupItem({ kind: 'key', hsmName: 'myhsm', vaultName: 'myvault', name: 'k', directory: dir, force: false }, deps()), invalid(/not both/));
    await assert.rejects(backupItem({ kind: 'key', secretId: 'https://myvault.vault.azure.net/secrets/s', directory: dir, force: false }, deps()), invalid(/names a secret, not a key/));
    await assert.rejects(backupItem({ kind: 'key', vaultName: 'myvault', name: 'bad_name', directory: dir, force: false }, deps()), invalid(/The key name "bad_name" is invalid/));
    assert.deepEqual(calls, []);
  });

  it('names a missing key with its own error id', async () => {
    const notFound = Object.assign(new Error('gone'), { statusCode: 404, details: { error: { code: 'KeyNotFound', message: 'A key with (name/id) k was not found in this key vault.' } } });
    await assert.rejects(backupItem({ kind: 'key', vaultName: 'myvault', name: 'k', directory: dir, force: false }, deps(async () => Promise.reject(notFound))), (e: unknown) => e instanceof BackupError && e.kind === 'NotFound' && e.errorId === 'KeyNotFound');
  });
});
