import { strict as assert } from 'node:assert';
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { vaultEndpoint } from '../../src/core/vault-address.js';
import { startBadTlsServer, type LocalVault } from '../support/local-vault/index.js';
import { exePath } from '../support/paths.js';
import { exeEnv, runExe, runProgram, type ExeRun } from '../support/run-exe.js';
import { assertNoLeak, bigBackupBody, leakNeedles, listing, startExe, whenTempFileAppears } from './support.js';
import { useExeFixture } from '../support/exe-fixture.js';
import { parseLines, resultsById } from '../support/serve-session.js';

// What the executable handles must not leak: tokens and backup bytes stay out
// of argv, the environment, stdout/stderr (even at debug level, even with the
// Azure SDK's own logging on) and error messages; files are owner-only from
// the moment they exist; TLS verification cannot be turned off.

const VAULT = 'hygiene';
/** Any JWT: the managed-identity token the executable fetched itself is not known to the test, but its shape is. */
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\./;

describe('reliability: secrets hygiene of the executable', function () {
  this.timeout(60_000);
  let vault: LocalVault;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  const fixture = useExeFixture('azkvb-hygiene-');
  beforeEach(() => {
    ({ vault, env } = fixture);
    dir = fixture.dir;
    vault.setSecret(VAULT, 'precious', `a secret value nobody may read ${Date.now()}`);
  });

  const blobNeedles = () => leakNeedles('the backup blob', vault.lastBackupBlob(VAULT, 'precious')!);

  it('serve at debug level with a supplied token: the token and the blob are in no output, no error message, no argv, no environment', async () => {
    const { token, expiresOn } = vault.issueToken();
    const tokenNeedles: Array<[string, string]> = [['the token', token], ['the token signature', token.split('.')[2]!]];
    // A first backup to learn the blob, so the second run's answers can echo it inside corrupt bodies.
    const first = await runExe(['backup', '--vault-name', VAULT, '--name', 'precious', '-d', dir], { env });
    assert.equal(first.code, 0, first.stderr);
    const blob = vault.lastBackupBlob(VAULT, 'precious')!;
    vault.setSecret(VAULT, 'echo-blob', 'x');
    vault.setSecret(VAULT, 'echo-token', 'x');
    vault.faults.add({ vault: VAULT, name: 'echo-blob', operation: 'backup' }, { kind: 'body', body: JSON.stringify({ value: `${blob.toString('base64url')}!` }) });
    vault.faults.add({ vault: VAULT, name: 'echo-token', operation: 'backup' }, { kind: 'status', status: 401 }, Infinity);
    vault.faults.setLatency(400);
    vault.clearRequests();

    const exe = startExe(['serve', '--log-level', 'debug'], env);
    const send = (message: unknown) => exe.child.stdin.write(`${JSON.stringify(message)}\n`);
    send({ type: 'hello', protocol: 3, client: 'hygiene' });
    send({ type: 'token', token, expiresOn });
    send({ type: 'backup', id: 1, vaultName: VAULT, name: 'precious', directory: dir, force: false });
    send({ type: 'backup', id: 2, vaultName: VAULT, name: 'echo-blob', directory: dir, force: false });
    send({ type: 'backup', id: 3, vaultName: VAULT, name: 'echo-token', directory: dir, force: false });
    // While the requests are in flight (the vault answers after 400 ms), the process's argv and environment.
    await new Promise((resolve) => setTimeout(resolve, 250));
    const pid = exe.child.pid!;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    // End pipeline 0 and close stdin: a protocol-3 session otherwise stays up for the next pipeline.
    exe.child.stdin.end(`${JSON.stringify({ type: 'end' })}\n`);
    const run = await exe.done;
    assert.equal(run.code, 0, run.stderr);

    const needles = [...tokenNeedles, ...leakNeedles('the backup blob', blob)];
    assertNoLeak('argv', cmdline, needles);
    assertNoLeak('the environment', environ, needles);
    assertNoLeak('stdout', run.stdout, needles);
    assertNoLeak('stderr at debug level', run.stderr, needles);
    assert.ok(!JWT.test(run.stdout + run.stderr), 'no JWT at all in the output');
    const lines = parseLines(run.stdout);
    assert.deepEqual(resultsById(lines).map((r) => [r.id, r.ok, r.error?.errorId]), [
      [1, true, undefined],
      [2, false, 'ServiceError'],
      [3, false, 'AuthenticationFailed'],
    ]);
    assert.deepEqual(lines.at(-1), { type: 'done', pipeline: 0, succeeded: 1, failed: 2 });
    assert.match(run.stderr, /"level":"debug"/, 'debug output was really on');
    assert.ok(vault.requests.some((r) => r.authorized && r.name === 'precious'), 'the supplied token was used');
    assert.ok(!vault.requests.some((r) => r.operation === 'token'), 'no managed-identity call: the supplied token was enough');
  });

  async function backupWithSdkLogging(extra: Record<string, string>): Promise<ExeRun> {
    return runExe(['backup', '--vault-name', VAULT, '--name', 'precious', '-d', dir, '--log-level', 'debug'], { env: exeEnv({ ...vault.env(), ...extra }) });
  }

  const sdkLogging: Array<Record<string, string>> = [{}, { AZURE_LOG_LEVEL: 'verbose' }, { DEBUG: '*' }];
  for (const extra of sdkLogging) {
    const label = Object.keys(extra).length ? Object.entries(extra).map(([k, v]) => `${k}=${v}`).join(' ') : 'no SDK logging';
    it(`backup with its own managed-identity token at --log-level debug, ${label}: no token or blob in the output`, async () => {
      const run = await backupWithSdkLogging(extra);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(vault.requests.some((r) => r.operation === 'token' && r.status === 200), 'a token was issued');
      assert.ok(!JWT.test(run.stdout), 'no token on stdout');
      assert.ok(!JWT.test(run.stderr), `no token on stderr: ${run.stderr.match(JWT)?.[0].slice(0, 12) ?? ''}…`);
      assert.ok(!/"authorization":\s*"(?!REDACTED")/i.test(run.stderr), 'a logged Authorization header is redacted');
      assertNoLeak('stderr', run.stderr, [['the managed-identity secret header (IDENTITY_HEADER)', vault.identityHeader]]);
      assertNoLeak('stdout', run.stdout, blobNeedles());
      assertNoLeak('stderr', run.stderr, blobNeedles());
    });
  }

  it('the backup file is owner-only even under umask 000, and so is a file it replaces', async () => {
    const target = path.join(dir, 'f.blob');
    for (const force of [[], ['--force']]) {
      // sh sets the umask; the executable must not rely on the caller's.
      const run = await runProgram('/bin/sh', ['-c', 'umask 000; exec "$0" "$@"', exePath(), 'backup', '--vault-name', VAULT, '--name', 'precious', '-o', target, ...force], { env });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(statSync(target).mode & 0o777, 0o600);
    }
  });

  it('the temp file is owner-only from the moment it exists (caught mid-write)', async () => {
    const { body } = bigBackupBody(30 * 1024 * 1024);
    vault.faults.add({ vault: VAULT, name: 'precious', operation: 'backup' }, { kind: 'body', body, contentType: 'application/json' });
    let mode: number | undefined;
    const caught = whenTempFileAppears(dir, 20_000, (file) => {
      try {
        mode = statSync(file).mode & 0o777;
      } catch {
        // Renamed away already; then the assertion below says so.
      }
    });
    const exe = startExe(['backup', '--vault-name', VAULT, '--name', 'precious', '-d', dir], env, '');
    const [temp, run] = await Promise.all([caught, exe.done]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(temp !== undefined, 'a temp file was seen');
    assert.equal(mode, 0o600, 'the temp file was owner-only while being written');
    assert.equal(listing(dir).length, 1);
  });

  it('no option turns TLS verification off: there is none in --help, and look-alikes are refused as unknown', async () => {
    const help = await runExe(['backup', '--help'], { env });
    assert.equal(help.code, 0);
    assert.ok(!/insecure|no-verify|reject-?unauthori[sz]ed|skip-?(tls|cert)/i.test(help.stdout), help.stdout);
    for (const flag of ['--insecure', '--no-verify', '--tls-reject-unauthorized=false', '--skip-tls-verify']) {
      const run = await runExe(['backup', '--vault-name', VAULT, '--name', 'precious', '-d', dir, flag], { env });
      assert.equal(run.code, 2, `${flag}: ${run.stderr}`);
    }
    assert.deepEqual(listing(dir), []);
  });

  it('NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment does not switch verification off, and says it was ignored', async () => {
    const bad = await startBadTlsServer('wrongHost');
    try {
      const run = await runExe(['backup', '--vault-name', VAULT, '--name', 'precious', '-d', dir, '--timeout-seconds', '2'], {
        env: exeEnv({ ...vault.env(), AZ_KEYVAULT_BACKUP_VAULT_URL: bad.vaultUrlTemplate, NODE_TLS_REJECT_UNAUTHORIZED: '0' }),
      });
      assert.equal(run.code, 7, run.stderr);
      assert.match(run.stderr, /ConnectionFailed/);
      assert.match(run.stderr, /WARNING: NODE_TLS_REJECT_UNAUTHORIZED="0" is ignored/);
      assert.equal(bad.requests, 0, 'no request, so no token, reached a server with a bad certificate');
      assert.deepEqual(listing(dir), []);
    } finally {
      await bad.close();
    }
  });

  it('the challenge resource check is relaxed only for an explicit vault address (unit level)', () => {
    assert.equal(vaultEndpoint('myvault', { dnsSuffix: 'vault.azure.net' }).relaxChallengeResourceCheck, false);
    assert.equal(vaultEndpoint('myvault', { dnsSuffix: 'vault.azure.cn' }).relaxChallengeResourceCheck, false);
    assert.equal(vaultEndpoint('myvault', { dnsSuffix: 'vault.azure.net', override: 'https://127.0.0.1:8443/{vault}' }).relaxChallengeResourceCheck, true);
  });
});
