import { strict as assert } from 'node:assert';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { startBadTlsServer, type BadTlsKind, type Fault, type LocalVault } from '../support/local-vault/index.js';
import { exeEnv, runExe, type ExeRun } from '../support/run-exe.js';
import { assertUntouched, bigBackupBody, listing, OLD_BYTES, startExe } from './support.js';
import { useExeFixture } from '../support/exe-fixture.js';
import { parseLines, resultsById } from '../support/serve-session.js';

// Every fault a vault, a proxy or the network can produce, against the built
// executable. Each run writes over a pre-existing file with --force, the
// hardest case: success must replace it with exactly the vault's bytes, and
// any failure must leave it (and the rest of the directory) exactly as it was.

const VAULT = 'faultvault';
const FAST_RETRY = { 'retry-after-ms': '50' };

type Expectation = { ok: true; attempts?: number } | { ok: false; exitCode: number; errorId: string; message?: RegExp };

interface Case {
  title: string;
  name: string;
  faults: Array<[Fault, number]>;
  expect: Expectation;
}

const json = (body: string, contentType = 'application/json; charset=utf-8'): Fault => ({ kind: 'body', body, contentType });

const CASES: Case[] = [
  // Transient: retried, and the run ends with the correct file.
  { title: '429 with Retry-After: 1 (seconds), once', name: 'throttle-ra-seconds', faults: [[{ kind: 'status', status: 429, code: 'Throttled', retryAfter: 1 }, 1]], expect: { ok: true, attempts: 2 } },
  { title: '429 with retry-after-ms, three times', name: 'throttle-ra-ms', faults: [[{ kind: 'status', status: 429, code: 'Throttled', headers: FAST_RETRY }, 3]], expect: { ok: true, attempts: 4 } },
  {
    title: '429 without Retry-After, once',
    name: 'throttle-no-ra',
    faults: [[{ kind: 'status', status: 429, code: 'Throttled' }, 1]],
    expect: { ok: true, attempts: 2 },
  },
  { title: '500, once', name: 'server-500', faults: [[{ kind: 'status', status: 500 }, 1]], expect: { ok: true, attempts: 2 } },
  { title: '503 without Retry-After, once', name: 'unavailable-once', faults: [[{ kind: 'status', status: 503 }, 1]], expect: { ok: true, attempts: 2 } },
  { title: '503 with retry-after-ms, twice', name: 'unavailable-ra-ms', faults: [[{ kind: 'status', status: 503, headers: FAST_RETRY }, 2]], expect: { ok: true, attempts: 3 } },
  { title: 'connection reset before any answer, once', name: 'reset-once', faults: [[{ kind: 'reset' }, 1]], expect: { ok: true, attempts: 2 } },
  {
    title: 'connection reset in the middle of the body, once',
    name: 'reset-mid-body-once',
    faults: [[{ kind: 'resetMidBody' }, 1]],
    expect: { ok: true, attempts: 2 },
  },
  {
    title: 'a server that never answers, once (--timeout-seconds 1)',
    name: 'hang-once',
    faults: [[{ kind: 'hang' }, 1]],
    expect: { ok: true, attempts: 2 },
  },

  // Not transient, or transient for longer than the retries: a clear error, no file.
  { title: '429 with retry-after-ms on every attempt', name: 'throttle-forever', faults: [[{ kind: 'status', status: 429, code: 'Throttled', headers: FAST_RETRY }, Infinity]], expect: { ok: false, exitCode: 6, errorId: 'Throttled', message: /after every retry/ } },
  { title: '503 with retry-after-ms on every attempt', name: 'unavailable-forever', faults: [[{ kind: 'status', status: 503, headers: FAST_RETRY }, Infinity]], expect: { ok: false, exitCode: 10, errorId: 'ServiceError' } },
  { title: '401 on every attempt after a token was given', name: 'unauthorized', faults: [[{ kind: 'status', status: 401, message: 'AKV10022: Invalid audience.' }, Infinity]], expect: { ok: false, exitCode: 5, errorId: 'AuthenticationFailed', message: /AKV10022/ } },
  { title: '403 Forbidden / AccessDenied (the service\'s shape)', name: 'denied', faults: [[{ kind: 'status', status: 403, code: 'AccessDenied' }, 1]], expect: { ok: false, exitCode: 4, errorId: 'AccessDenied', message: /does not have secrets backup permission.*secrets\/backup/ } },
  { title: '403 Forbidden / ForbiddenByRbac', name: 'denied-rbac', faults: [[{ kind: 'status', status: 403, code: 'ForbiddenByRbac' }, 1]], expect: { ok: false, exitCode: 4, errorId: 'AccessDenied', message: /Caller is not authorized/ } },
  { title: '400 BadParameter (e.g. a certificate-backed secret)', name: 'bad-parameter', faults: [[{ kind: 'status', status: 400, code: 'BadParameter', message: "Operation 'backup' is not allowed on this secret." }, 1]], expect: { ok: false, exitCode: 10, errorId: 'ServiceError', message: /not allowed/ } },
  { title: '200 with a truncated JSON body (complete HTTP message)', name: 'truncated-json', faults: [[json('{"value":"KUF6dXJlS2V5VmF1bHRTZWNyZXRC'), 1]], expect: { ok: false, exitCode: 10, errorId: 'ServiceError', message: /not JSON/ } },
  { title: '200 with a body that is not JSON', name: 'not-json', faults: [[json('this is not json'), 1]], expect: { ok: false, exitCode: 10, errorId: 'ServiceError', message: /not JSON/ } },
  { title: '200 with an empty body', name: 'empty-body', faults: [[json(''), 1]], expect: { ok: false, exitCode: 10, errorId: 'ServiceError', message: /empty/ } },
  { title: '200 with JSON null', name: 'null-body', faults: [[json('null'), 1]], expect: { ok: false, exitCode: 10, errorId: 'ServiceError' } },
  { title: '200 with a JSON array', name: 'array-body', faults: [[json('[]'), 1]], expect: { ok: false, exitCode: 10, errorId: 'ServiceError' } },
  { title: '200 without a value', name: 'no-value', faults: [[json('{"id":"x"}'), 1]], expect: { ok: false, exitCode: 10, errorId: 'ServiceError', message: /no 'value'/ } },
  { title: '200 with a value that is a number', name: 'number-value', faults: [[json('{"value":12345}'), 1]], expect: { ok: false, exitCode: 10, errorId: 'ServiceError', message: /no 'value'/ } },
  { title: '200 with an empty value', name: 'empty-value', faults: [[json('{"value":""}'), 1]], expect: { ok: false, exitCode: 10, errorId: 'ServiceError', message: /empty/ } },
  { title: '200 with a value of only padding (==)', name: 'only-padding', faults: [[json('{"value":"=="}'), 1]], expect: { ok: false, exitCode: 10, errorId: 'ServiceError', message: /empty/ } },
  { title: '200 with a value that is not base64url', name: 'not-base64url', faults: [[json('{"value":"KUF6dXJl S2V5!!"}'), 1]], expect: { ok: false, exitCode: 10, errorId: 'ServiceError', message: /not base64url/ } },
  { title: '200 with standard base64 (+ and /) instead of base64url', name: 'plain-base64', faults: [[json('{"value":"ab+/cd=="}'), 1]], expect: { ok: false, exitCode: 10, errorId: 'ServiceError', message: /not base64url/ } },
  { title: '200 with a base64url value of impossible length', name: 'bad-length', faults: [[json('{"value":"AAAAA"}'), 1]], expect: { ok: false, exitCode: 10, errorId: 'ServiceError', message: /not base64url/ } },
  { title: '200 with an HTML page (a proxy or captive portal)', name: 'html-page', faults: [[json('<html><body>Sign in to the network</body></html>', 'text/html'), 1]], expect: { ok: false, exitCode: 10, errorId: 'ServiceError', message: /not JSON/ } },
  {
    title: '200 with a JSON body labelled text/plain',
    name: 'wrong-content-type',
    faults: [[json('{"value":"KUF6dXJlS2V5VmF1bHQ"}', 'text/plain'), 1]],
    expect: { ok: false, exitCode: 10, errorId: 'ServiceError', message: /content type/ },
  },
];

describe('reliability: vault and network faults against the executable', function () {
  this.timeout(60_000);
  let vault: LocalVault;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  const fixture = useExeFixture('azkvb-faults-');
  beforeEach(() => {
    ({ vault, env } = fixture);
    dir = fixture.dir;
  });

  const attemptsFor = (name: string) => vault.requests.filter((r) => r.operation === 'backup' && r.name === name && r.authorized);

  /** Backs up `name` over a pre-existing file with --force, with `faults` armed. */
  async function backupOverExisting(name: string, faults: Array<[Fault, number]>, args: string[] = [], extraEnv: NodeJS.ProcessEnv = env) {
    vault.setSecret(VAULT, name, `the value of ${name}`);
    for (const [fault, times] of faults) vault.faults.add({ vault: VAULT, name, operation: 'backup' }, fault, times);
    const target = path.join(dir, 'existing.blob');
    writeFileSync(target, OLD_BYTES, { mode: 0o644 });
    const before = listing(dir);
    const started = Date.now();
    const run = await runExe(['backup', '--vault-name', VAULT, '--name', name, '-o', target, '--force', '--timeout-seconds', '1', ...args], {
      env: extraEnv,
      timeoutMs: 55_000,
    });
    return { run, target, before, ms: Date.now() - started };
  }

  function assertSucceeded(name: string, r: { run: ExeRun; target: string }): void {
    assert.equal(r.run.code, 0, r.run.stderr);
    assert.equal(r.run.stdout.trim(), r.target);
    const expected = vault.lastBackupBlob(VAULT, name);
    assert.ok(expected !== undefined);
    assert.deepEqual(readFileSync(r.target), expected, 'the file holds exactly the bytes of the last good answer');
    assert.equal(statSync(r.target).mode & 0o777, 0o600, 'the replaced file is owner-only');
    assert.deepEqual(listing(dir), ['existing.blob'], 'no temp file is left');
  }

  function assertFailed(r: { run: ExeRun; target: string; before: string[] }, expect: Extract<Expectation, { ok: false }>): void {
    assert.equal(r.run.code, expect.exitCode, r.run.stderr);
    assert.equal(r.run.stdout, '', 'nothing on stdout means no path was reported');
    assert.match(r.run.stderr, new RegExp(`^az-keyvault-backup: ${expect.errorId}: `, 'm'));
    if (expect.message) assert.match(r.run.stderr, expect.message);
    assertUntouched(dir, r.before, r.target);
  }

  for (const c of CASES) {
    const title = `${c.title}: ${c.expect.ok ? 'retried, then the correct file' : `${c.expect.errorId} (exit ${c.expect.exitCode}), old file kept`}`;
    const body = async () => {
      const r = await backupOverExisting(c.name, c.faults);
      if (c.expect.ok) {
        assertSucceeded(c.name, r);
        if (c.expect.attempts !== undefined) assert.equal(attemptsFor(c.name).length, c.expect.attempts);
      } else {
        assertFailed(r, c.expect);
      }
    };
    it(title, body);
  }

  it('429 Retry-After in seconds is honoured: the retry waits for it', async () => {
    const r = await backupOverExisting('throttle-wait', [[{ kind: 'status', status: 429, code: 'Throttled', retryAfter: 1 }, 1]]);
    assertSucceeded('throttle-wait', r);
    const [first, second] = attemptsFor('throttle-wait');
    assert.ok(first && second);
    assert.ok(second.startedAt - first.endedAt >= 900, `retried after ${second.startedAt - first.endedAt} ms`);
  });

  it('an answer far larger than any real backup (70 MiB) is refused: ServiceError (exit 10), old file kept', async () => {
    const { body } = bigBackupBody(52 * 1024 * 1024); // 52 MiB of bytes is 70 MiB of base64url
    const r = await backupOverExisting('huge', [[json(body), 1]]);
    assertFailed(r, { ok: false, exitCode: 10, errorId: 'ServiceError', message: /larger than the 67108864-byte limit/ });
  });

  it('an answer that never ends (chunked, no Content-Length) is cut off at the cap, with memory bounded: ServiceError (exit 10)', async () => {
    vault.setSecret(VAULT, 'endless', 'value');
    vault.faults.add({ vault: VAULT, name: 'endless', operation: 'backup' }, { kind: 'endless' }, Infinity);
    const before = listing(dir);
    const exe = startExe(['backup', '--vault-name', VAULT, '--name', 'endless', '-d', dir, '--timeout-seconds', '60'], env);
    // The high-water mark of the executable's memory, read while it runs.
    let peakKb = 0;
    const poll = setInterval(() => {
      try {
        const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${exe.child.pid}/status`, 'utf8'));
        if (match) peakKb = Math.max(peakKb, Number(match[1]));
      } catch {
        // The process has just exited.
      }
    }, 20);
    const run = await exe.done;
    clearInterval(poll);
    assert.equal(run.code, 10, run.stderr);
    assert.match(run.stderr, /ServiceError: .*larger than the 67108864-byte limit/);
    assert.equal(vault.requests.filter((r) => r.operation === 'backup' && r.status === 200).length, 1, 'refused, not retried');
    // The server would send 1 GiB; buffering it all would take well over a gigabyte.
    assert.ok(peakKb > 0 && peakKb < 400 * 1024, `peak memory ${Math.round(peakKb / 1024)} MiB`);
    assertUntouched(dir, before);
  });

  it('a large but legitimate answer (20 MiB) is written whole', async () => {
    const { body, blob } = bigBackupBody(20 * 1024 * 1024);
    const r = await backupOverExisting('large', [[json(body), 1]]);
    assert.equal(r.run.code, 0, r.run.stderr);
    assert.deepEqual(readFileSync(r.target), blob);
  });

  it('a server that never answers is retried, then given up: ConnectionFailed (exit 7), old file kept', async () => {
    const r = await backupOverExisting('hang-forever', [[{ kind: 'hang' }, Infinity]], ['--max-retries', '1']);
    assertFailed(r, { ok: false, exitCode: 7, errorId: 'ConnectionFailed', message: /did not answer within 1 s/ });
    // Two attempts of one second each, and the back-off between them.
    assert.equal(attemptsFor('hang-forever').length, 2);
    assert.ok(r.ms >= 2000, `gave up after ${r.ms} ms, before two 1 s attempts`);
  });

  for (const kind of ['wrongHost', 'expired'] as BadTlsKind[]) {
    const what = kind === 'wrongHost' ? 'a certificate for another host' : 'an expired certificate';
    it(`refuses ${what} from a trusted CA: ConnectionFailed (exit 7), no request ever sent`, async () => {
      const bad = await startBadTlsServer(kind);
      try {
        const r = await backupOverExisting(`tls-${kind.toLowerCase()}`, [], [], exeEnv({ ...vault.env(), AZ_KEYVAULT_BACKUP_VAULT_URL: bad.vaultUrlTemplate }));
        assertFailed(r, { ok: false, exitCode: 7, errorId: 'ConnectionFailed', message: kind === 'wrongHost' ? /does not match certificate/ : /certificate has expired/ });
        assert.equal(bad.handshakes, 0);
        assert.equal(bad.requests, 0, 'no request (and so no token) reached the server');
      } finally {
        await bad.close();
      }
    });
  }

  it('faults that outlast every retry, all at once in serve mode: one clear error per item, every old file kept', async () => {
    // Run together, and with two retries instead of five, because the exponential back-off would otherwise add up.
    const persistent: Array<{ name: string; fault: Fault; kind: string; errorId: string }> = [
      { name: 'p-500', fault: { kind: 'status', status: 500 }, kind: 'Service', errorId: 'ServiceError' },
      { name: 'p-503', fault: { kind: 'status', status: 503 }, kind: 'Service', errorId: 'ServiceError' },
      { name: 'p-429', fault: { kind: 'status', status: 429, code: 'Throttled' }, kind: 'Throttled', errorId: 'Throttled' },
      { name: 'p-reset', fault: { kind: 'reset' }, kind: 'Network', errorId: 'ConnectionFailed' },
      { name: 'p-reset-mid-body', fault: { kind: 'resetMidBody' }, kind: 'Network', errorId: 'ConnectionFailed' },
      { name: 'p-hang', fault: { kind: 'hang' }, kind: 'Network', errorId: 'ConnectionFailed' },
    ];
    const lines = [JSON.stringify({ type: 'hello', protocol: 3, client: 'reliability' })];
    persistent.forEach((p, i) => {
      vault.setSecret(VAULT, p.name, `the value of ${p.name}`);
      vault.faults.add({ vault: VAULT, name: p.name, operation: 'backup' }, p.fault, Infinity);
      writeFileSync(path.join(dir, `${p.name}.blob`), OLD_BYTES);
      lines.push(JSON.stringify({ type: 'backup', id: i, vaultName: VAULT, name: p.name, outputFile: path.join(dir, `${p.name}.blob`), force: true }));
    });
    vault.setSecret(VAULT, 'p-healthy', 'fine');
    lines.push(JSON.stringify({ type: 'backup', id: 'healthy', vaultName: VAULT, name: 'p-healthy', directory: dir, force: false }));
    lines.push('{"type":"end"}');
    const before = listing(dir);
    const run = await runExe(['serve', '--concurrency', '16', '--timeout-seconds', '1', '--max-retries', '2'], { env, input: `${lines.join('\n')}\n`, timeoutMs: 55_000 });
    assert.equal(run.code, 0, run.stderr);
    const out = parseLines(run.stdout);
    const results = resultsById(out);
    assert.deepEqual(results.map((r) => r.id), [...persistent.map((_, i) => i), 'healthy'], 'one result per item');
    assert.equal(out.find((l) => l.type === 'result')?.id, 'healthy', 'the healthy item is answered as soon as it is done, not held behind the retried ones');
    persistent.forEach((p, i) => {
      const result = results[i]!;
      assert.equal(result.ok, false, p.name);
      assert.equal(result.error?.kind, p.kind, `${p.name}: ${result.error?.message}`);
      assert.equal(result.error?.errorId, p.errorId, p.name);
      assert.ok(result.error!.message.endsWith(` (vault '${VAULT}', secret '${p.name}')`), `${p.name}: the message names the secret: ${result.error?.message}`);
      assert.deepEqual(readFileSync(path.join(dir, `${p.name}.blob`)), OLD_BYTES, `${p.name}: old file kept`);
    });
    const healthy = results[results.length - 1]!;
    assert.equal(healthy.ok, true, 'a healthy item in the same run still succeeds');
    assert.deepEqual(readFileSync(healthy.path!), vault.lastBackupBlob(VAULT, 'p-healthy'));
    assert.deepEqual(listing(dir), [...before, path.basename(healthy.path!)].sort(), 'no temp file, no partial file');
    assert.deepEqual(out[out.length - 1], { type: 'done', pipeline: 0, succeeded: 1, failed: persistent.length });
    for (const p of persistent) {
      assert.equal(attemptsFor(p.name).length, 3, `${p.name} was tried once and retried twice`);
    }
  });
});
