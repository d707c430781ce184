import { strict as assert } from 'node:assert';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runExe } from '../support/run-exe.js';
import { packageVersion } from '../support/paths.js';
import { parseLines, resultsById, startServe } from '../support/serve-session.js';
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

  it('uses the default name inside an --output-file that is an existing directory', async () => {
    const sub = path.join(dir, 'folder');
    mkdirSync(sub);
    const run = await runExe(['backup', '--vault-name', VAULT, '--name', 'hello', '-o', sub], { env });
    assert.equal(run.code, 0, run.stderr);
    const written = run.stdout.trim();
    assert.equal(path.dirname(written), sub);
    assert.match(path.basename(written), /^exetest-hello-\d{10}(\.\d{1,5})?$/);
    assert.deepEqual(readFileSync(written), vault.lastBackupBlob(VAULT, 'hello'));
  });

  it('can back up a secret (non-existing): SecretNotFound exit code and no file', async () => {
    const run = await runExe(['backup', '--vault-name', VAULT, '--name', 'missing', '-d', dir], { env });
    assert.equal(run.code, 3);
    assert.match(run.stderr, /SecretNotFound: A secret with \(name\/id\) missing was not found/);
    assert.equal(run.stdout, '');
    assert.deepEqual(readdirSync(dir), []);
  });

  it("refuses a certificate's own secret with ManagedByCertificate (exit 12), naming the certificate, and writes nothing", async () => {
    vault.setCertificateSecret(VAULT, 'web-tls', '-----BEGIN PRIVATE KEY-----');
    const run = await runExe(['backup', '--vault-name', VAULT, '--name', 'web-tls', '-d', dir], { env });
    assert.equal(run.code, 12, run.stderr);
    assert.match(run.stderr, /ManagedByCertificate: Secret 'web-tls' in vault 'exetest' belongs to a Key Vault certificate/);
    assert.match(run.stderr, /Backup-AzKeyVaultCertificate -VaultName 'exetest' -Name 'web-tls'/);
    assert.doesNotMatch(run.stderr, /AccessDenied|secrets\/backup/);
    assert.deepEqual(backupRequests().map((r) => r.status), [401, 403], 'the challenge, then one refusal: a 403 is not retried');
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

  describe('serve mode (protocol 3)', () => {
    const hello = JSON.stringify({ type: 'hello', protocol: 3, client: 'test' });
    const req = (id: number | string, name: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ type: 'backup', id, vaultName: VAULT, name, directory: dir, force: false, ...extra });
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

    it("answers every request once, failures with the executable's whole message, then done for pipeline 0, even when stdin ends right after end", async () => {
      vault.faults.setLatency(30);
      const input = [hello, req(1, 'hello'), req(2, 'missing'), req(3, 'Other'), '{broken', req(4, 'bad/name'), JSON.stringify({ type: 'backup', id: 5, secretId: 'not a uri', directory: dir }), '{"type":"end"}', ''].join('\n');
      // stdin ends right after end, while the backups are still waiting for the vault: an ended pipeline still finishes.
      const run = await runExe(['serve', '--concurrency', '4'], { env, input });
      assert.equal(run.code, 0, run.stderr);
      const lines = parseLines(run.stdout);
      assert.deepEqual(lines[0], { type: 'hello', protocol: 3, version: packageVersion() });
      const results = resultsById(lines);
      assert.deepEqual(results.map((r) => [r.id, r.ok]), [[1, true], [2, false], [3, true], [4, false], [5, false]], 'each id answered exactly once');
      assert.deepEqual([results[1]!.error?.errorId, results[1]!.error?.category], ['SecretNotFound', 'ObjectNotFound']);
      assert.ok(results[1]!.error!.message.endsWith(` (vault '${VAULT}', secret 'missing')`), results[1]!.error!.message);
      assert.equal(results[3]!.error?.errorId, 'InvalidArgument');
      assert.ok(results[3]!.error!.message.endsWith(` (vault '${VAULT}', secret 'bad/name')`), results[3]!.error!.message);
      assert.equal(results[4]!.error?.errorId, 'InvalidArgument');
      assert.ok(results[4]!.error!.message.endsWith(" (secret 'not a uri')"), results[4]!.error!.message);
      assert.deepEqual(lines.filter((l) => l.type === 'protocolError').map((l) => l.line), [5]);
      assert.deepEqual(lines.at(-1), { type: 'done', pipeline: 0, succeeded: 2, failed: 3 });
      assert.ok(!lines.some((l) => l.type === 'bye'), 'no bye after end: the session would go on');
      assert.deepEqual(readFileSync(results[0]!.path!), vault.lastBackupBlob(VAULT, 'hello'));
      assert.deepEqual(readFileSync(results[2]!.path!), vault.lastBackupBlob(VAULT, 'Other'));
      // The bad name and the bad identifier never reached the vault.
      assert.ok(!vault.requests.some((r) => r.name === 'bad/name' || r.url.includes('bad') || r.url.includes('uri')));
    });

    it('refuses a protocol-1 hello with ProtocolVersionMismatch naming both versions, exit 11, and runs nothing', async () => {
      const input = [JSON.stringify({ type: 'hello', protocol: 1, client: 'an old module' }), req(1, 'hello'), '{"type":"end"}', ''].join('\n');
      const run = await runExe(['serve'], { env, input });
      assert.equal(run.code, 11, run.stderr);
      const lines = parseLines(run.stdout);
      assert.equal(lines.length, 1, run.stdout);
      const [mismatch] = lines;
      assert.deepEqual([mismatch!.type, mismatch!.errorId, mismatch!.kind, mismatch!.protocol], ['error', 'ProtocolVersionMismatch', 'Protocol', 3]);
      assert.match(mismatch!.message!, /protocol 1\b.*protocol 3\b/);
      assert.deepEqual(vault.requests, []);
      assert.deepEqual(readdirSync(dir), []);
    });

    it('stops at once without writing anything more when stdin ends before end: exit 130, no file, no temp file', async () => {
      vault.faults.setLatency(800);
      const input = [hello, req(1, 'hello'), req(2, 'Other')].join('\n') + '\n';
      const started = Date.now();
      const run = await runExe(['serve'], { env, input });
      assert.equal(run.code, 130, run.stderr);
      assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
      assert.deepEqual(parseLines(run.stdout).map((l) => l.type), ['hello'], 'no result, no done, no cancelled');
      assert.deepEqual(readdirSync(dir), []);
    });

    it('serves pipelines one after another over one process, each with its begin, keeping its token and challenge, and stays up after done until stdin closes', async () => {
      const serve = startServe([], env);
      serve.send(hello, { type: 'begin', pipeline: 1 }, req('a', 'hello', { pipeline: 1 }), { type: 'end', pipeline: 1 });
      assert.deepEqual(await serve.next((m) => m.type === 'done'), { type: 'done', pipeline: 1, succeeded: 1, failed: 0 });
      await sleep(500);
      assert.equal(serve.child.exitCode, null, 'the session outlives its pipeline');
      serve.send({ type: 'begin', pipeline: 2, logLevel: 'verbose' }, req('b', 'Other', { pipeline: 2 }), req('c', 'missing', { pipeline: 2 }), { type: 'end', pipeline: 2 });
      assert.deepEqual(await serve.next((m) => m.type === 'done' && m.pipeline === 2), { type: 'done', pipeline: 2, succeeded: 1, failed: 1 });
      assert.equal(await serve.close(), 0, 'EOF with every pipeline done is a clean end');
      assert.deepEqual(serve.lines.map((l) => l.type), ['hello', 'result', 'done', 'result', 'result', 'done']);
      const results = resultsById(serve.lines);
      assert.deepEqual(results.map((r) => [r.id, r.ok]), [['a', true], ['b', true], ['c', false]]);
      assert.deepEqual(readFileSync(results[0]!.path!), vault.lastBackupBlob(VAULT, 'hello'));
      assert.deepEqual(readFileSync(results[1]!.path!), vault.lastBackupBlob(VAULT, 'Other'));
      // One managed-identity token and one challenge for both pipelines: the second reused the first's credential and client.
      assert.equal(vault.requests.filter((r) => r.operation === 'token').length, 1, JSON.stringify(vault.requests));
      assert.equal(backupRequests().filter((r) => r.status === 401).length, 1, 'one challenge round in the whole session');
      // Pipeline 2 asked for verbose: its diagnostics say so and are tagged with it; pipeline 1 (warning) wrote none.
      const diagnostics = serve.diagnostics();
      const ofTwo = diagnostics.filter((d) => d.pipeline === 2);
      assert.ok(ofTwo.length > 0 && ofTwo.some((d) => d.level === 'verbose'), serve.stderr());
      assert.ok(!diagnostics.some((d) => d.pipeline === 1), serve.stderr());
      // Each result of pipeline 2 says how many of them were written before it; pipeline 1's says none.
      assert.equal(results[0]!.logged, undefined);
      for (const r of results.slice(1)) assert.ok(r.logged! >= 1 && r.logged! <= ofTwo.length, JSON.stringify(r));
    });

    it('cancels one pipeline: no further result or file of it, then cancelled; the session serves the next pipeline', async () => {
      for (let i = 0; i < 6; i++) vault.setSecret(VAULT, `c${i}`, `cancelled ${i}`);
      vault.faults.setLatency(1_500);
      const serve = startServe([], env);
      serve.send(hello, { type: 'begin', pipeline: 1 }, ...Array.from({ length: 6 }, (_, i) => req(i, `c${i}`, { pipeline: 1 })));
      await sleep(400);
      serve.send({ type: 'cancel', pipeline: 1 });
      assert.deepEqual(await serve.next((m) => m.type === 'cancelled'), { type: 'cancelled', pipeline: 1 });
      // Past the time the vault would have answered: still nothing of pipeline 1.
      await sleep(1_600);
      assert.deepEqual(readdirSync(dir), [], 'no file and no temp file of the cancelled pipeline');
      vault.faults.setLatency(0);
      serve.send({ type: 'begin', pipeline: 2 }, req('next', 'hello', { pipeline: 2 }), { type: 'end', pipeline: 2 });
      assert.deepEqual(await serve.next((m) => m.type === 'done'), { type: 'done', pipeline: 2, succeeded: 1, failed: 0 });
      assert.equal(await serve.close(), 0);
      assert.deepEqual(serve.lines.map((l) => [l.type, l.id ?? l.pipeline]), [['hello', undefined], ['cancelled', 1], ['result', 'next'], ['done', 2]]);
      assert.deepEqual(readdirSync(dir), [path.basename(resultsById(serve.lines)[0]!.path!)]);
    });

    it('ends by itself with bye (idle) after --idle-timeout-seconds with no pipeline open, exit 0 though stdin is still open, and not while one is', async () => {
      vault.faults.setLatency(1_500);
      const serve = startServe(['--idle-timeout-seconds', '1'], env);
      serve.send(hello, req(1, 'hello'), { type: 'end' });
      await serve.next((m) => m.type === 'done', 10_000);
      const doneAt = Date.now();
      assert.deepEqual(await serve.next((m) => m.type === 'bye', 10_000), { type: 'bye', reason: 'idle' });
      const idle = Date.now() - doneAt;
      const { code } = await serve.exited;
      assert.equal(code, 0, serve.stderr());
      assert.ok(idle >= 900 && idle < 4_000, `bye ${idle} ms after done`);
      assert.deepEqual(serve.lines.map((l) => l.type), ['hello', 'result', 'done', 'bye'], 'the 1.5 s backup outlasted the 1 s idle time: no bye while it ran');
      assert.equal(serve.lines[1]!.ok, true);
    });

    it("starts a request sent with 'after' only once the one it names has settled, so the later of two writes to one file wins", async () => {
      const file = path.join(dir, 'same.blob');
      // The first is throttled once, so it would finish last if the second did not wait for it.
      vault.faults.add({ vault: VAULT, name: 'hello', operation: 'backup' }, { kind: 'status', status: 429, code: 'Throttled', headers: { 'retry-after-ms': '400' } });
      const input = [hello, req(1, 'hello', { outputFile: file, directory: undefined, force: true }), req(2, 'Other', { outputFile: file, directory: undefined, force: true, after: 1 }), '{"type":"end"}', ''].join('\n');
      const run = await runExe(['serve'], { env, input });
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(resultsById(parseLines(run.stdout)).map((r) => [r.id, r.ok, r.path]), [[1, true, file], [2, true, file]]);
      assert.deepEqual(readFileSync(file), vault.lastBackupBlob(VAULT, 'Other'), 'the later request wrote last');
      const firstDone = Math.max(...backupRequests().filter((r) => r.name === 'hello').map((r) => r.endedAt));
      const secondStart = Math.min(...backupRequests().filter((r) => r.name === 'Other').map((r) => r.startedAt));
      assert.ok(secondStart >= firstDone, `the second reached the vault ${firstDone - secondStart} ms before the first was done`);
      assert.deepEqual(readdirSync(dir), ['same.blob']);
    });

    it("does not order two writes to one file by itself: without 'after' both go at once and the one that finishes last wins", async () => {
      const file = path.join(dir, 'same.blob');
      vault.faults.add({ vault: VAULT, name: 'hello', operation: 'backup' }, { kind: 'status', status: 429, code: 'Throttled', headers: { 'retry-after-ms': '400' } });
      const input = [hello, req(1, 'hello', { outputFile: file, directory: undefined, force: true }), req(2, 'Other', { outputFile: file, directory: undefined, force: true }), '{"type":"end"}', ''].join('\n');
      const run = await runExe(['serve'], { env, input });
      assert.equal(run.code, 0, run.stderr);
      const results = parseLines(run.stdout).filter((l) => l.type === 'result');
      assert.deepEqual(results.map((r) => [r.id, r.ok]), [[2, true], [1, true]], 'the throttled first request is answered last');
      assert.deepEqual(readFileSync(file), vault.lastBackupBlob(VAULT, 'hello'), 'the throttled first request wrote last');
      const firstDone = Math.max(...backupRequests().filter((r) => r.name === 'hello').map((r) => r.endedAt));
      const secondStart = Math.min(...backupRequests().filter((r) => r.name === 'Other').map((r) => r.startedAt));
      assert.ok(secondStart < firstDone, 'the second did not wait for the first');
    });
  });
});
