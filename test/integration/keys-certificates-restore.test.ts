import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runExe } from '../support/run-exe.js';
import { resultsById, startServe } from '../support/serve-session.js';
import type { LocalVault } from '../support/local-vault/index.js';
import { useExeFixture } from '../support/exe-fixture.js';

// The executable's keys, certificates and restores against the local vault: HTTPS, the real
// challenge, a managed-identity token, the SDK's key and certificate clients.
describe('the executable with keys, certificates and restores', function () {
  let vault: LocalVault;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const fixture = useExeFixture('azkvb-items-');
  let n = 0;
  /** A vault of its own per test: names and states never leak between tests. */
  let v: string;
  beforeEach(() => {
    ({ vault, env } = fixture);
    dir = fixture.dir;
    v = `items${process.pid % 1000}x${n++}`;
    // Long enough that a restore right after the purge meets it, short enough to keep tests quick.
    vault.setPurgeLinger(700);
  });

  const vaultRequests = (operation?: string) => vault.requests.filter((r) => r.vault === v && (operation === undefined || r.operation === operation));

  it('can back up a key and a certificate to their default names, exact bytes, owner-only', async () => {
    vault.setKey(v, 'signing');
    vault.setCertificate(v, 'tls');
    for (const [kind, name] of [['key', 'signing'], ['certificate', 'tls']] as const) {
      const run = await runExe(['backup', '--kind', kind, '--vault-name', v, '--name', name, '-d', dir], { env });
      assert.equal(run.code, 0, run.stderr);
      const written = run.stdout.trim();
      assert.match(path.basename(written), new RegExp(`^${v}-${name}-\\d{10}(\\.\\d{1,5})?$`));
      assert.deepEqual(readFileSync(written), vault.lastBackupBlob(v, name, { kind }));
      assert.equal(statSync(written).mode & 0o777, 0o600);
    }
    assert.deepEqual(vaultRequests('backup').filter((r) => r.status === 200).map((r) => r.kind), ['key', 'certificate']);
  });

  it("refuses a certificate's own key with ManagedByCertificate (exit 12), naming the certificate, writing nothing", async () => {
    vault.setCertificate(v, 'tls');
    const run = await runExe(['backup', '--kind', 'key', '--vault-name', v, '--name', 'tls', '-d', dir], { env });
    assert.equal(run.code, 12, run.stderr);
    assert.match(run.stderr, /ManagedByCertificate: Key 'tls' in vault '.*' belongs to a Key Vault certificate/);
    assert.ok(run.stderr.includes(`Backup-AzKeyVaultCertificate -VaultName '${v}' -Name 'tls'`), run.stderr);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('names a missing key KeyNotFound (exit 3)', async () => {
    const run = await runExe(['backup', '--kind', 'key', '--vault-name', v, '--name', 'nope', '-d', dir], { env });
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /^az-keyvault-backup: KeyNotFound: /);
  });

  for (const kind of ['secret', 'key', 'certificate'] as const) {
    it(`can restore a ${kind} after delete and purge: it waits out the purge's 409 and every version comes back`, async () => {
      const versions: string[] = [];
      if (kind === 'secret') {
        vault.setSecret(v, 'item', 'first-secret-value');
        vault.setSecret(v, 'item', 'second-secret-value');
      } else if (kind === 'key') {
        vault.setKey(v, 'item');
        vault.setKey(v, 'item');
      } else {
        vault.setCertificate(v, 'item');
        vault.setCertificate(v, 'item');
      }
      versions.push(...vault.itemVersions(kind, v, 'item'));
      assert.equal(versions.length, 2);
      const backup = await runExe(['backup', '--kind', kind, '--vault-name', v, '--name', 'item', '-o', path.join(dir, 'item.blob')], { env });
      assert.equal(backup.code, 0, backup.stderr);
      assert.ok(vault.deleteItem(kind, v, 'item'));
      assert.ok(vault.purgeItem(kind, v, 'item'));
      vault.clearRequests();
      const run = await runExe(['restore', '--kind', kind, '--vault-name', v, '-i', path.join(dir, 'item.blob'), '--log-level', 'verbose'], { env });
      assert.equal(run.code, 0, run.stderr);
      const item = JSON.parse(run.stdout) as Record<string, unknown>;
      assert.equal(item.kind, kind);
      assert.equal(item.vaultName, v);
      assert.equal(item.name, 'item');
      assert.equal(item.version, versions[1]);
      assert.ok(String(item.id).endsWith(`/${kind === 'secret' ? 'secrets' : kind === 'key' ? 'keys' : 'certificates'}/item/${versions[1]}`), String(item.id));
      assert.equal(item.enabled, true);
      assert.deepEqual(vault.itemVersions(kind, v, 'item'), versions, 'every version back, with its id');
      if (kind === 'key') assert.deepEqual([item.keyType, item.keySize, item.isHsm], ['RSA', 2048, false]);
      if (kind === 'certificate') assert.match(String(item.thumbprint), /^[0-9A-F]{40}$/);
      if (kind === 'certificate') assert.deepEqual([vault.itemState('secret', v, 'item'), vault.itemState('key', v, 'item')], ['active', 'active']);
      const restores = vaultRequests('restore');
      assert.ok(restores.some((r) => r.status === 409), 'the purge was still lingering at first');
      assert.equal(restores.at(-1)!.status, 200);
      assert.match(run.stderr, /a purge of it is still finishing\. Retrying in 0\.5 s/);
      assert.ok(!`${run.stdout}${run.stderr}`.includes('secret-value'), 'no secret value in the output');
    });
  }

  it('refuses a name in use (ItemExists, exit 14) at once, and a soft-deleted one (ItemSoftDeleted, exit 15), without retrying', async () => {
    vault.setSecret(v, 'taken', 'x');
    const file = path.join(dir, 'taken.blob');
    assert.equal((await runExe(['backup', '--vault-name', v, '--name', 'taken', '-o', file], { env })).code, 0);
    vault.clearRequests();
    const inUse = await runExe(['restore', '--vault-name', v, '-i', file], { env });
    assert.equal(inUse.code, 14, inUse.stderr);
    assert.match(inUse.stderr, /^az-keyvault-backup: ItemExists: A secret of that name already exists/);
    assert.deepEqual(vaultRequests('restore').filter((r) => r.authorized).map((r) => r.status), [409], 'one restore, not retried');
    vault.deleteItem('secret', v, 'taken');
    vault.clearRequests();
    const deleted = await runExe(['restore', '--vault-name', v, '-i', file], { env });
    assert.equal(deleted.code, 15, deleted.stderr);
    assert.match(deleted.stderr, /ItemSoftDeleted: .*Undo-AzKeyVaultSecretRemoval/);
    assert.deepEqual(vaultRequests('restore').filter((r) => r.authorized).map((r) => r.status), [409]);
  });

  it('refuses a missing input file with InputFileNotFound (exit 13) before any vault request', async () => {
    const run = await runExe(['restore', '--vault-name', v, '-i', path.join(dir, 'nope.blob')], { env });
    assert.equal(run.code, 13, run.stderr);
    assert.ok(run.stderr.includes(`InputFileNotFound: Cannot find backup secret file '${path.join(dir, 'nope.blob')}'`), run.stderr);
    assert.deepEqual(vault.requests, []);
  });

  it('refuses a blob of another kind, a damaged one and one of another geography with InvalidBackup (exit 16)', async () => {
    vault.setKey(v, 'k');
    const keyFile = path.join(dir, 'k.blob');
    assert.equal((await runExe(['backup', '--kind', 'key', '--vault-name', v, '--name', 'k', '-o', keyFile], { env })).code, 0);
    const asSecret = await runExe(['restore', '--vault-name', v, '-i', keyFile], { env });
    assert.equal(asSecret.code, 16, asSecret.stderr);
    assert.match(asSecret.stderr, /InvalidBackup: .*Malformed backup blob/);
    const damaged = path.join(dir, 'damaged.blob');
    const bytes = readFileSync(keyFile);
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0xff;
    writeFileSync(damaged, bytes);
    assert.equal((await runExe(['restore', '--kind', 'key', '--vault-name', v, '-i', damaged], { env })).code, 16);
    const elsewhere = `${v}eu`;
    vault.setVaultScope(elsewhere, { subscription: 'sub-1', geography: 'europe' });
    const foreign = await runExe(['restore', '--kind', 'key', '--vault-name', elsewhere, '-i', keyFile], { env });
    assert.equal(foreign.code, 16, foreign.stderr);
    assert.match(foreign.stderr, /another subscription or geography.*Cannot decrypt backup blob/);
  });

  it('can back up and restore a key of a Managed HSM, through its own challenge resource', async () => {
    const hsm = `hsm${n}x${process.pid % 1000}`;
    vault.setKey(hsm, 'hk', { hsm: true });
    const file = path.join(dir, 'hk.blob');
    const backup = await runExe(['backup', '--kind', 'key', '--hsm-name', hsm, '--name', 'hk', '-o', file], { env });
    assert.equal(backup.code, 0, backup.stderr);
    assert.deepEqual(readFileSync(file), vault.lastBackupBlob(hsm, 'hk', { kind: 'key', hsm: true }));
    vault.setPurgeLinger(0);
    assert.ok(vault.deleteItem('key', hsm, 'hk', { hsm: true }));
    assert.ok(vault.purgeItem('key', hsm, 'hk', { hsm: true }));
    const run = await runExe(['restore', '--kind', 'key', '--hsm-name', hsm, '-i', file], { env });
    assert.equal(run.code, 0, run.stderr);
    const item = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.deepEqual([item.vaultName, item.name, item.isHsm], [hsm, 'hk', true]);
    assert.ok(vault.requests.filter((r) => r.vault === hsm).every((r) => r.hsm === true));
    const secretOnHsm = await runExe(['restore', '--hsm-name', hsm, '-i', file], { env });
    assert.equal(secretOnHsm.code, 2, 'a Managed HSM holds keys only');
  });

  it('restores many files over one serve session concurrently, each answered by id, with the restore errors per item', async () => {
    const files: string[] = [];
    vault.setPurgeLinger(0);
    for (let i = 0; i < 12; i++) {
      vault.setSecret(v, `s${i}`, `value-${i}`);
      const file = path.join(dir, `s${i}.blob`);
      assert.equal((await runExe(['backup', '--vault-name', v, '--name', `s${i}`, '-o', file], { env })).code, 0);
      files.push(file);
      if (i < 10) {
        vault.deleteItem('secret', v, `s${i}`);
        vault.purgeItem('secret', v, `s${i}`);
      }
    }
    vault.faults.setLatency(50);
    vault.clearRequests();
    const serve = startServe(['--idle-timeout-seconds', '0'], env);
    serve.send({ type: 'hello', protocol: 3, client: 'restore test' }, { type: 'begin', pipeline: 1, kind: 'secret' });
    files.forEach((file, i) => serve.send({ type: 'restore', pipeline: 1, id: i + 1, vaultName: v, inputFile: file }));
    serve.send({ type: 'restore', pipeline: 1, id: 13, vaultName: v, inputFile: path.join(dir, 'missing.blob') }, { type: 'end', pipeline: 1 });
    await serve.next((m) => m.type === 'done', 60_000);
    await serve.close();
    const results = resultsById(serve.lines);
    assert.equal(results.length, 13);
    assert.deepEqual(results.slice(0, 10).map((r) => [r.ok, r.item?.name]), Array.from({ length: 10 }, (_, i) => [true, `s${i}`]));
    assert.deepEqual(results.slice(10).map((r) => r.error?.errorId), ['ItemExists', 'ItemExists', 'InputFileNotFound']);
    assert.equal(results[12]!.error!.inputFile, path.join(dir, 'missing.blob'));
    const restores = vaultRequests('restore').filter((r) => r.authorized);
    const overlapping = Math.max(...restores.map((r) => restores.filter((o) => o.startedAt < r.endedAt && o.endedAt > r.startedAt).length));
    assert.ok(overlapping > 1, `restores went concurrently (at most ${overlapping} at once)`);
    assert.ok(!serve.lines.some((l) => JSON.stringify(l).includes('value-')), 'no secret value on stdout');
  });
});
