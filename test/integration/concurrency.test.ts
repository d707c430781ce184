import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { LocalVault } from '../support/local-vault/index.js';
import { runExe, startExe } from '../support/run-exe.js';
import { useExeFixture } from '../support/exe-fixture.js';
import { parseLines, resultsById, type Message } from '../support/serve-session.js';

// A whole vault through one `serve` process: concurrent, each answer as it is done, throttle-proof.
const VAULT = 'concurrency';
const HELLO = JSON.stringify({ type: 'hello', protocol: 3, client: 'concurrency test' });
const END = JSON.stringify({ type: 'end' });

type Line = Message;

describe('serve: many secrets at once', function () {
  let vault: LocalVault;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const names = (n: number, prefix = 's') => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);
  const request = (id: number, name: string) => JSON.stringify({ type: 'backup', id, vaultName: VAULT, name, directory: dir, force: false });
  const parse = (stdout: string): Line[] => parseLines(stdout);

  const fixture = useExeFixture('azkvb-conc-');
  beforeEach(() => {
    ({ vault, env } = fixture);
    dir = fixture.dir;
  });

  function seed(list: string[]): void {
    for (const name of list) vault.setSecret(VAULT, name, `value of ${name}`);
  }

  /** Every id answered once and ok, each file holding exactly that secret's backup, nothing else in the folder, then done. */
  function assertAllWritten(lines: Line[], list: string[]): void {
    const results = resultsById(lines);
    assert.deepEqual(results.map((r) => r.id), list.map((_, i) => i + 1), 'one result per id');
    for (const [i, r] of results.entries()) {
      assert.equal(r.ok, true, `${list[i]}: ${JSON.stringify(r.error)}`);
      assert.match(path.basename(r.path!), new RegExp(`^${VAULT}-${list[i]}-`));
      assert.deepEqual(readFileSync(r.path!), vault.lastBackupBlob(VAULT, list[i]!), `${list[i]} bytes`);
    }
    assert.equal(readdirSync(dir).length, list.length, 'one file per secret, no temp files left');
    assert.deepEqual(lines.at(-1), { type: 'done', pipeline: 0, succeeded: list.length, failed: 0 });
  }

  it('writes each result as its backup is done, so later requests overtake a throttled earlier one, with more than one request in flight', async () => {
    const list = names(40, 'order');
    seed(list);
    vault.faults.setLatency(20);
    // The first request is held back for 3 s; throttling answers with random short waits make
    // other later requests finish before earlier ones too (and lower the vault's rate, so the
    // others may take a while as well).
    vault.faults.add({ vault: VAULT, name: list[0], operation: 'backup' }, { kind: 'status', status: 429, code: 'Throttled', headers: { 'retry-after-ms': '3000' } });
    for (const name of list.slice(1)) {
      if (Math.random() < 0.5) {
        vault.faults.add(
          { vault: VAULT, name, operation: 'backup' },
          { kind: 'status', status: 429, code: 'Throttled', headers: { 'retry-after-ms': String(Math.floor(Math.random() * 300)) } },
        );
      }
    }
    const input = [HELLO, ...list.map((n, i) => request(i + 1, n)), END, ''].join('\n');
    const run = await runExe(['serve', '--concurrency', '8'], { env, input, timeoutMs: 30_000 });
    assert.equal(run.code, 0, run.stderr);
    const lines = parse(run.stdout);
    assertAllWritten(lines.slice(1), list);
    // From the vault's log: each backup request from its arrival to its answer. (The vault's own
    // in-flight count lasts until the response's 'close' event, which can come after the client
    // has read the answer and sent its next request.)
    const peak = mostAtOnce(vault.requests.filter((r) => r.operation === 'backup' && r.endedAt >= r.startedAt));
    assert.ok(peak > 1 && peak <= 8, `peak in flight ${peak}`);
    // Answers really did come back out of input order, and each result was written as its backup was done.
    const served = vault.requests.filter((r) => r.operation === 'backup' && r.status === 200).map((r) => r.name);
    assert.notDeepEqual(served, list);
    const written = lines.filter((l) => l.type === 'result').map((l) => l.id);
    assert.ok(written.indexOf(1) >= list.length / 2, `the held-back first request is answered after most of the later ones, not before them: ${written.join(',')}`);
    assert.notDeepEqual(written, list.map((_, i) => i + 1));
  });

  it('finishes a throttled run with every file correct, lowering its rate to what the vault serves instead of retrying into the limit', async () => {
    const list = names(90, 'rate');
    seed(list);
    vault.faults.setLatency(10);
    vault.faults.setRateLimit(30);
    const input = [HELLO, ...list.map((n, i) => request(i + 1, n)), END, ''].join('\n');
    const started = Date.now();
    const run = await runExe(['serve', '--concurrency', '16', '--log-level', 'verbose'], { env, input, timeoutMs: 40_000 });
    const seconds = (Date.now() - started) / 1000;
    assert.equal(run.code, 0, run.stderr);
    const lines = parse(run.stdout);
    assertAllWritten(lines.slice(1), list);
    const statuses = vault.requests.filter((r) => r.operation === 'backup').map((r) => r.status);
    assert.ok(statuses.includes(429), 'the vault did throttle');
    // Once the vault has throttled, requests go at the rate it served: the 429s are those of the
    // backups under way when it first did, and once more before the second cut (one cut lowers
    // the rate to a quarter at most), each time at most the 32 that serve runs at once.
    const throttled = statuses.filter((s) => s === 429).length;
    assert.ok(throttled <= 64, `${throttled} throttling answers for 90 backups`);
    // -Verbose shows both the retries and the lowered rate, as diagnostics of pipeline 0.
    const diagnostics = parseLines(run.stderr);
    assert.ok(diagnostics.some((d) => d.level === 'verbose' && d.pipeline === 0 && d.message!.startsWith('The vault answered 429')), run.stderr.slice(0, 2000));
    assert.ok(diagnostics.some((d) => d.pipeline === 0 && /^Vault 'concurrency' is throttling; requests per second to it: 360 -> \d/.test(d.message!)), run.stderr.slice(0, 2000));
    // Each result counts the pipeline's diagnostics written before it (so the module can show them
    // first): never more than were written, never fewer than an earlier result's count.
    const ofPipeline = diagnostics.filter((d) => d.pipeline === 0).length;
    const logged = lines.filter((l) => l.type === 'result').map((l) => l.logged ?? 0);
    assert.ok(logged.every((n, i) => n <= ofPipeline && (i === 0 || n >= logged[i - 1]!)), `${logged.join(',')} of ${ofPipeline}`);
    assert.ok(logged.at(-1)! > 0, 'the results after the throttling say so');
    // 90 at 30/s takes 3 s; anything near the per-request back-off (tens of seconds) means the throttle failed.
    assert.ok(seconds < 10, `took ${seconds} s`);
  });

  /**
   * When the vault saw each backup request, in order. The unauthenticated first attempts that
   * fetch the challenge count too: one per backup under way before the first token (serve runs
   * twice --concurrency at once; the vault gate holds the attempts, after the SDK's challenge
   * policy has chosen to send them without a token). They pass the pacer, as the service counts them.
   */
  const backupStarts = (): number[] => vault.requests.filter((r) => r.operation === 'backup').map((r) => r.startedAt).sort((a, b) => a - b);

  /** The most requests the vault was answering at once: each from its arrival until its answer was written. */
  const mostAtOnce = (records: Array<{ startedAt: number; endedAt: number }>): number => {
    // Ends before starts at the same millisecond: an answer written, then the next request.
    const edges = records.flatMap((r) => [[r.startedAt, 1], [r.endedAt, -1]] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let now = 0;
    let most = 0;
    for (const [, change] of edges) most = Math.max(most, (now += change));
    return most;
  };

  /** The most of `times` (sorted) in any window [t, t + ms). */
  const busiestWindow = (times: number[], ms: number): number => {
    let most = 0;
    for (let first = 0, last = 0; first < times.length; first++) {
      while (last < times.length && times[last]! < times[first]! + ms) last++;
      most = Math.max(most, last - first);
    }
    return most;
  };

  it('lets a 200-item pipeline through unpaced when it fits the 10 s budget of --max-requests-per-second', async () => {
    const list = names(199, 'burst');
    seed(list);
    const input = [HELLO, ...list.map((n, i) => request(i + 1, n)), END, ''].join('\n');
    // 25 a second is 250 per 10 s: the 199 backups and up to 32 challenges fit, so none waits
    // (paced at 25/s from the first request, they took at least 8 s).
    const run = await runExe(['serve', '--concurrency', '16', '--max-requests-per-second', '25'], { env, input });
    assert.equal(run.code, 0, run.stderr);
    assertAllWritten(parse(run.stdout).slice(1), list);
    const starts = backupStarts();
    assert.ok(starts.length > 199 && starts.length <= 199 + 32, `${starts.length} requests`);
    const span = starts.at(-1)! - starts[0]!;
    assert.ok(span < 4_000, `200 requests within the budget spread over ${span} ms`);
  });

  it('keeps each vault within --max-requests-per-second over any 10 s window', async function () {
    this.timeout(60_000);
    const list = names(22, 'paced');
    seed(list);
    const input = [HELLO, ...list.map((n, i) => request(i + 1, n)), END, ''].join('\n');
    // 2 a second is 20 per 10 s: the challenges and the first backups, 20 in all, at once; the
    // rest wait for the window, then go half a second apart.
    const run = await runExe(['serve', '--concurrency', '4', '--max-requests-per-second', '2'], { env, input, timeoutMs: 40_000 });
    assert.equal(run.code, 0, run.stderr);
    assertAllWritten(parse(run.stdout).slice(1), list);
    const starts = backupStarts();
    assert.ok(starts.length > 22 && starts.length <= 22 + 8, `${starts.length} requests`);
    const first = starts[0]!;
    // The vault stamps arrivals; a request may reach it up to `slack` ms later or sooner than it was sent.
    const slack = 250;
    assert.ok(starts[19]! - first < 3_000, `the budget's 20 went over ${starts[19]! - first} ms, unpaced`);
    assert.ok(starts[20]! - first >= 10_000 - slack, `the 21st went ${starts[20]! - first} ms after the first, inside its window`);
    for (let i = 21; i < starts.length; i++) {
      assert.ok(starts[i]! - starts[i - 1]! >= 500 - slack, `requests ${i} and ${i + 1} ${starts[i]! - starts[i - 1]!} ms apart`);
    }
    assert.ok(busiestWindow(starts, 10_000 - slack) <= 20, `${busiestWindow(starts, 10_000 - slack)} in one window`);
  });

  it('retries an answer cut off mid-body and writes the whole backup', async () => {
    const list = names(3, 'cut');
    seed(list);
    vault.faults.add({ vault: VAULT, name: list[1], operation: 'backup' }, { kind: 'resetMidBody' });
    const input = [HELLO, ...list.map((n, i) => request(i + 1, n)), END, ''].join('\n');
    const run = await runExe(['serve', '--log-level', 'verbose'], { env, input });
    assert.equal(run.code, 0, run.stderr);
    assertAllWritten(parse(run.stdout).slice(1), list);
    assert.match(run.stderr, /retrying if attempts remain/);
    assert.equal(vault.requests.filter((r) => r.name === list[1] && r.operation === 'backup' && r.status === 200).length, 2);
  });

  it('leaves only whole files, no temp files, when stdin closes mid-run without end', async () => {
    const list = names(60, 'stop');
    seed(list);
    vault.faults.setLatency(40);
    const exe = startExe(['serve', '--concurrency', '4'], env);
    await new Promise<void>((resolve) => {
      // Stop once a few results are out, with more requests in flight.
      const results = () => exe.stdout().split('\n').filter((l) => l.includes('"type":"result"')).length;
      exe.child.stdout.on('data', () => {
        if (results() >= 5) resolve();
      });
      exe.child.stdin.write([HELLO, ...list.map((n, i) => request(i + 1, n)), ''].join('\n'));
    });
    exe.child.stdin.end();
    const { code, stdout, stderr } = await exe.done;
    assert.equal(code, 130, stderr);
    // The stop cancels the rest without a word: no failed result, no done, only what was done before it.
    const lines = parse(stdout);
    assert.deepEqual([...new Set(lines.map((l) => l.type))], ['hello', 'result'], stdout);
    const written = lines.filter((l) => l.type === 'result');
    assert.ok(written.every((l) => l.ok), 'a cancelled request gets no result');
    assert.ok(written.length >= 5 && written.length < list.length, `${written.length} backups before the stop`);
    const files = readdirSync(dir);
    assert.ok(files.length < list.length, 'the stop cut the run short');
    for (const r of written) assert.ok(files.includes(path.basename(r.path!)), `${r.path} was answered, so it is there`);
    for (const file of files) {
      assert.doesNotMatch(file, /azkvb-tmp/, 'no temp file left');
      const name = list.find((n) => file.startsWith(`${VAULT}-${n}-`));
      assert.ok(name, `unexpected file ${file}`);
      assert.deepEqual(readFileSync(path.join(dir, file)), vault.lastBackupBlob(VAULT, name), `${file} is whole`);
    }
  });
});
