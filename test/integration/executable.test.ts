import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runExe } from '../support/run-exe.js';
import type { LocalVault } from '../support/local-vault/index.js';
import { useExeFixture } from '../support/exe-fixture.js';

const VAULT = 'exetest';

describe('the az-keyvault-backup executable', function () {
  let vault: LocalVault;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  const fixture = useExeFixture('azkvb-exe-');
  beforeEach(() => {
    ({ vault, env } = fixture);
    dir = fixture.dir;
    vault.setSecret(VAULT, 'hello', 'world');
    vault.setSecret(VAULT, 'Other', 'value-2');
  });

  const backupRequests = () => vault.requests.filter((r) => r.operation === 'backup');

  it('prints its version from any directory', async () => {
    const run = await runExe(['--version'], { env, cwd: '/' });
    assert.equal(run.code, 0);
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(run.stdout.trim(), pkg.version);
  });

  it('can back up a secret to its default name: exact bytes, owner-only, path on stdout', async () => {
    const run = await runExe(['backup', '--vault-name', VAULT, '--name', 'hello', '--directory', dir], { env });
    assert.equal(run.code, 0, run.stderr);
    const written = run.stdout.trim();
    assert.equal(path.dirname(written), dir);
    assert.match(path.basename(written), /^exetest-hello-\d{10}(\.\d{1,5})?$/);
    const bytes = readFileSync(written);
    assert.deepEqual(bytes, vault.lastBackupBlob(VAULT, 'hello'));
    assert.ok(bytes.subarray(0, 42).toString('latin1').startsWith(')AzureKeyVaultSecretBackupV1.microsoft.com'));
    assert.equal(statSync(written).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), [path.basename(written)]);
    assert.equal(run.stderr, '');
  });

  it('uses the default name in the working directory when given no path', async () => {
    const run = await runExe(['backup', '--vault-name', VAULT, '--name', 'Other'], { env, cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout.trim(), new RegExp(`^${dir}/exetest-other-\\d+`));
  });

  it('goes through the real challenge: 401 without a token, a managed-identity token, then the authorised call', async () => {
    const run = await runExe(['backup', '--vault-name', VAULT, '--name', 'hello', '-d', dir], { env });
    assert.equal(run.code, 0, run.stderr);
    const trail = vault.requests.map((r) => `${r.operation}:${r.status}${r.operation === 'backup' ? `:${r.authorized}` : ''}`);
    assert.deepEqual(trail, ['backup:401:false', 'token:200', 'backup:200:true']);
  });

  it('writes to --output-file, refuses to replace it without --force and keeps its bytes', async () => {
    const file = path.join(dir, 'b.blob');
    writeFileSync(file, 'older backup');
    const refused = await runExe(['backup', '--vault-name', VAULT, '--name', 'hello', '-o', file], { env });
    assert.equal(refused.code, 8);
    assert.match(refused.stderr, /FileExists/);
    assert.equal(readFileSync(file, 'utf8'), 'older backup');
    assert.equal(backupRequests().length, 0, 'no request for a refused overwrite');

    const forced = await runExe(['backup', '--vault-name', VAULT, '--name', 'hello', '-o', file, '--force'], { env });
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(forced.stdout.trim(), file);
    assert.deepEqual(readFileSync(file), vault.lastBackupBlob(VAULT, 'hello'));
    assert.deepEqual(readdirSync(dir), ['b.blob']);
  });

  it('can back up a secret (non-existing): SecretNotFound exit code and no file', async () => {
    const run = await runExe(['backup', '--vault-name', VAULT, '--name', 'missing', '-d', dir], { env });
    assert.equal(run.code, 3);
    assert.match(run.stderr, /SecretNotFound: A secret with \(name\/id\) missing was not found/);
    assert.equal(run.stdout, '');
    assert.deepEqual(readdirSync(dir), []);
  });

  it('fails on bad names before any request (the server log proves it)', async () => {
    for (const [v, n] of [['ex', 'hello'], [VAULT, 'a/b'], [VAULT, '..'], [VAULT, 'a?b'], [VAULT, 'a%2Fb'], [VAULT, 'a b']]) {
      const run = await runExe(['backup', '--vault-name', v!, '--name', n!, '-d', dir], { env });
      assert.equal(run.code, 2, `${v}/${n}: ${run.stderr}`);
      assert.match(run.stderr, /InvalidArgument/);
    }
    assert.deepEqual(vault.requests, []);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('backs up by secret identifier', async () => {
    const run = await runExe(['backup', '--secret-id', `https://${VAULT}.vault.azure.net/secrets/hello/0123abcd`, '-d', dir], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(readFileSync(run.stdout.trim()), vault.lastBackupBlob(VAULT, 'hello'));
  });

  it('maps 403 AccessDenied to exit code 4 naming the missing permission', async () => {
    vault.faults.add({ vault: VAULT, name: 'hello', operation: 'backup' }, { kind: 'status', status: 403, code: 'Forbidden' });
    const run = await runExe(['backup', '--vault-name', VAULT, '--name', 'hello', '-d', dir], { env });
    assert.equal(run.code, 4);
    assert.match(run.stderr, /AccessDenied: .*secrets\/backup/);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('retries a 429 with Retry-After and a reset connection, then writes the file', async () => {
    vault.faults.add({ vault: VAULT, name: 'hello', operation: 'backup' }, { kind: 'status', status: 429, code: 'Throttled', retryAfter: 1 });
    vault.faults.add({ vault: VAULT, name: 'hello', operation: 'backup' }, { kind: 'reset' });
    const run = await runExe(['backup', '--vault-name', VAULT, '--name', 'hello', '-d', dir, '--log-level', 'verbose'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(readFileSync(run.stdout.trim()), vault.lastBackupBlob(VAULT, 'hello'));
    assert.match(run.stderr, /429/);
    const statuses = backupRequests().map((r) => r.status);
    assert.ok(statuses.includes(429), statuses.join(','));
  });

  it('fails with WriteFailed (exit 9) when the directory does not exist', async () => {
    const run = await runExe(['backup', '--vault-name', VAULT, '--name', 'hello', '-o', path.join(dir, 'no', 'such', 'f')], { env });
    assert.equal(run.code, 9);
    assert.match(run.stderr, /WriteFailed/);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('fails with Service (exit 10) on an answer that is not base64url, writing nothing', async () => {
    vault.faults.add({ vault: VAULT, name: 'hello', operation: 'backup' }, { kind: 'body', body: '{"value":"not base64url!"}', contentType: 'application/json' });
    const run = await runExe(['backup', '--vault-name', VAULT, '--name', 'hello', '-d', dir], { env });
    assert.equal(run.code, 10, run.stderr);
    assert.deepEqual(readdirSync(dir), []);
  });

  describe('serve mode', () => {
    const hello = JSON.stringify({ type: 'hello', protocol: 1, client: 'test' });
    const req = (id: number, name: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ type: 'backup', id, vaultName: VAULT, name, directory: dir, force: false, ...extra });

    it('answers every request in input order, failures included, then bye', async () => {
      vault.faults.setLatency(30);
      const input = [hello, req(1, 'hello'), req(2, 'missing'), req(3, 'Other'), '{broken', req(4, 'bad/name'), '{"type":"end"}', ''].join('\n');
      const run = await runExe(['serve', '--concurrency', '4'], { env, input });
      assert.equal(run.code, 0, run.stderr);
      const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(lines[0].type, 'hello');
      const results = lines.filter((l) => l.type === 'result');
      assert.deepEqual(results.map((r) => [r.id, r.ok]), [[1, true], [2, false], [3, true], [4, false]]);
      assert.equal(results[1].error.errorId, 'SecretNotFound');
      assert.equal(results[3].error.errorId, 'InvalidArgument');
      assert.equal(lines.filter((l) => l.type === 'protocolError').length, 1);
      assert.deepEqual(lines[lines.length - 1], { type: 'bye', succeeded: 2, failed: 2 });
      assert.deepEqual(readFileSync(results[0].path), vault.lastBackupBlob(VAULT, 'hello'));
      // The bad name never reached the vault.
      assert.ok(!vault.requests.some((r) => r.name === 'bad/name' || r.url.includes('bad')));
    });

    it('stops without writing when stdin ends without end', async () => {
      vault.faults.setLatency(800);
      const input = [hello, req(1, 'hello'), req(2, 'Other')].join('\n') + '\n';
      const run = await runExe(['serve'], { env, input });
      assert.equal(run.code, 130, run.stderr);
      assert.deepEqual(readdirSync(dir), []);
    });
  });
});
