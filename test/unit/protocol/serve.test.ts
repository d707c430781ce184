import { strict as assert } from 'node:assert';
import { PROTOCOL_VERSION } from '../../../src/protocol/messages.js';
import { serve, type ServeOptions } from '../../../src/protocol/serve.js';
import { BackupError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { BackupRequest } from '../../../src/core/backup.js';

async function* linesOf(lines: string[]): AsyncIterable<string> {
  for (const line of lines) yield line;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Lines the test pushes while serve runs, as the module writes them over time. */
class LineSource implements AsyncIterable<string> {
  private readonly buffered: string[] = [];
  private wake: (() => void) | undefined;
  private closed = false;
  push(...lines: Array<string | object>): void {
    for (const l of lines) this.buffered.push(typeof l === 'string' ? l : JSON.stringify(l));
    this.wake?.();
  }
  close(): void {
    this.closed = true;
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    for (;;) {
      if (this.buffered.length > 0) yield this.buffered.shift()!;
      else if (this.closed) return;
      else await new Promise<void>((r) => (this.wake = r));
    }
  }
}

describe('serve (one session, many pipelines)', () => {
  const hello = { type: 'hello', protocol: PROTOCOL_VERSION, features: ['tokenRequest'] };
  const backupLine = (pipeline: number, id: number, name: string, extra: Record<string, unknown> = {}) => ({ type: 'backup', pipeline, id, vaultName: 'v', name, directory: '/d', ...extra });
  const ok = (r: BackupRequest) => ({ vaultName: 'v', name: r.name!, path: `/d/${r.name}`, bytes: 1 });

  // Protocol lines are read as loosely as the module reads them.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Line = Record<string, any>;

  function start(overrides: Partial<ServeOptions> & { lines: AsyncIterable<string> }) {
    const out: Line[] = [];
    let notify: (() => void) | undefined;
    const options: ServeOptions = {
      write: (l) => {
        out.push(JSON.parse(l));
        notify?.();
      },
      logger: silentLogger,
      version: '9.9.9',
      defaults: { context: '', kind: 'secret', concurrency: 4, logLevel: 'warning' },
      idleTimeoutMs: 0,
      within: (_p, _l, fn) => fn(),
      backup: async (r) => ok(r),
      restore: async () => assert.fail('this test restores nothing'),
      supplyToken: () => undefined,
      declineToken: () => undefined,
      enableTokenRequests: () => undefined,
      ...overrides,
    };
    const exit = serve(options);
    const waitFor = async (test: (m: Line) => boolean): Promise<Line> => {
      for (;;) {
        const found = out.find(test);
        if (found !== undefined) return found;
        await new Promise<void>((r) => (notify = r));
      }
    };
    return { out, exit, waitFor };
  }

  it('can serve pipelines one after the other over one process, answering each with done', async () => {
    const lines = new LineSource();
    const s = start({ lines });
    lines.push(hello, { type: 'begin', pipeline: 1 }, backupLine(1, 1, 'a'), { type: 'end', pipeline: 1 });
    assert.deepEqual(await s.waitFor((m) => m.type === 'done'), { type: 'done', pipeline: 1, succeeded: 1, failed: 0 });
    lines.push({ type: 'begin', pipeline: 2 }, backupLine(2, 2, 'b'), { type: 'end', pipeline: 2 });
    assert.deepEqual(await s.waitFor((m) => m.type === 'done' && m.pipeline === 2), { type: 'done', pipeline: 2, succeeded: 1, failed: 0 });
    lines.close();
    assert.equal(await s.exit, 0, 'EOF with no pipeline open is a clean end');
    assert.deepEqual(s.out[0], { type: 'hello', protocol: PROTOCOL_VERSION, version: '9.9.9' });
    assert.deepEqual(s.out.filter((m) => m.type === 'result').map((m) => m.id), [1, 2]);
  });

  it('writes each result as it finishes, with the whole message composed, and at most twice concurrency at once', async () => {
    let running = 0;
    let peak = 0;
    const s = start({
      lines: linesOf([JSON.stringify(hello), JSON.stringify({ type: 'begin', pipeline: 1, concurrency: 2 }), ...[40, 5, 5, 5, 5, 5].map((ms, i) => JSON.stringify(backupLine(1, i, `s${ms}-${i}`))), JSON.stringify({ type: 'end', pipeline: 1 })]),
      backup: async (r) => {
        running++;
        peak = Math.max(peak, running);
        await sleep(Number(r.name!.split('-')[0]!.slice(1)));
        running--;
        if (r.name === 's5-3') throw new BackupError('NotFound', 'gone.', { status: 404, code: 'SecretNotFound' });
        return ok(r);
      },
    });
    assert.equal(await s.exit, 0);
    const results = s.out.filter((m) => m.type === 'result');
    assert.notEqual(results[0]!.id, 0, 'the slow first request does not hold back the others');
    assert.equal(peak, 4);
    const failed = results.find((m) => m.id === 3)!;
    assert.deepEqual([failed.ok, failed.error.errorId, failed.error.category], [false, 'SecretNotFound', 'ObjectNotFound']);
    assert.equal(failed.error.message, "gone. (vault 'v', secret 's5-3')");
    assert.deepEqual(s.out.at(-1), { type: 'done', pipeline: 1, succeeded: 5, failed: 1 });
  });

  it("runs a request sent with 'after' once the one it names has settled, and the others alongside", async () => {
    const events: string[] = [];
    const s = start({
      lines: linesOf([hello, backupLine(0, 1, 's1', { outputFile: '/d/same' }), backupLine(0, 2, 's2', { outputFile: '/d/same', after: 1 }), backupLine(0, 3, 's3'), { type: 'end' }].map((l) => JSON.stringify(l))),
      backup: async (r) => {
        events.push(`start ${r.name}`);
        await sleep(r.name === 's1' ? 40 : 5);
        events.push(`end ${r.name}`);
        if (r.name === 's1') throw new BackupError('Io', 'disk full');
        return ok(r);
      },
    });
    await s.exit;
    assert.ok(events.indexOf('end s1') < events.indexOf('start s2'), events.join(', '));
    assert.ok(events.indexOf('start s3') < events.indexOf('end s1'), 'a request for another file does not wait');
  });

  it('cancels one pipeline alone: nothing more of it is written, then cancelled; the other goes on', async () => {
    const lines = new LineSource();
    const aborted: string[] = [];
    const s = start({
      lines,
      backup: (r, _settings, signal) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => resolve(ok(r)), r.name === 'slow' ? 10_000 : 30);
          signal.addEventListener('abort', () => {
            clearTimeout(timer);
            aborted.push(r.name!);
            reject(new BackupError('Network', 'cancelled'));
          });
        }),
    });
    lines.push(hello, { type: 'begin', pipeline: 1 }, { type: 'begin', pipeline: 2 });
    lines.push(backupLine(1, 1, 'slow'), backupLine(1, 2, 'slow'), ...Array.from({ length: 20 }, (_, i) => backupLine(1, 10 + i, 'queued')));
    lines.push(backupLine(2, 100, 'quick'));
    lines.push({ type: 'cancel', pipeline: 1 });
    assert.deepEqual(await s.waitFor((m) => m.type === 'cancelled'), { type: 'cancelled', pipeline: 1 });
    lines.push({ type: 'end', pipeline: 2 });
    await s.waitFor((m) => m.type === 'done');
    assert.deepEqual(aborted.filter((n) => n === 'slow').length, 2);
    assert.ok(!s.out.some((m) => m.type === 'result' && m.id !== 100), JSON.stringify(s.out));
    assert.deepEqual(s.out.find((m) => m.type === 'result'), { type: 'result', id: 100, ok: true, path: '/d/quick', bytes: 1 });
    lines.close();
    assert.equal(await s.exit, 0);
  });

  it('on EOF with a pipeline open cancels everything, removes temp files and exits 130 without writing', async () => {
    const lines = new LineSource();
    let removed = false;
    const s = start({
      lines,
      onAbort: () => {
        removed = true;
      },
      backup: (_r, _s, signal) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new BackupError('Network', 'cancelled')))),
    });
    lines.push(hello, backupLine(0, 1, 's'));
    await sleep(5);
    lines.close();
    assert.equal(await s.exit, 130);
    assert.ok(removed);
    assert.deepEqual(s.out.map((m) => m.type), ['hello']);
  });

  it('ends by itself, saying so, after the idle time with no pipeline open, and not while one is', async () => {
    const lines = new LineSource();
    const s = start({ lines, idleTimeoutMs: 60, backup: async (r) => (await sleep(150), ok(r)) });
    lines.push(hello, backupLine(0, 1, 's'), { type: 'end' });
    assert.equal(await s.exit, 0);
    assert.deepEqual(s.out.map((m) => m.type), ['hello', 'result', 'done', 'bye']);
    assert.deepEqual(s.out.at(-1), { type: 'bye', reason: 'idle' });
  });

  it('gives each pipeline its settings, defaults filling what begin left out, and routes diagnostics to it', async () => {
    const seen: Array<{ settings: unknown; pipeline: number; level: string }> = [];
    let scope: { pipeline: number; level: string } | undefined;
    const s = start({
      lines: linesOf([hello, { type: 'begin', pipeline: 7, context: 'c1', dnsSuffix: 'vault.azure.cn', logLevel: 'debug' }, backupLine(7, 1, 'a'), backupLine(0, 2, 'b'), { type: 'end', pipeline: 7 }, { type: 'end' }].map((l) => JSON.stringify(l))),
      within: async (pipeline, level, fn) => {
        scope = { pipeline, level };
        return fn();
      },
      backup: async (r, settings) => {
        seen.push({ settings, ...scope! });
        return ok(r);
      },
    });
    await s.exit;
    assert.deepEqual(seen, [
      { settings: { context: 'c1', kind: 'secret', concurrency: 4, logLevel: 'debug', dnsSuffix: 'vault.azure.cn' }, pipeline: 7, level: 'debug' },
      { settings: { context: '', kind: 'secret', concurrency: 4, logLevel: 'warning' }, pipeline: 0, level: 'warning' },
    ]);
  });

  it("gives every request of a pipeline the pipeline's kind, and answers a restore with the item it brought back", async () => {
    const backups: Array<[string | undefined, string | undefined]> = [];
    const restores: Array<[string | undefined, string]> = [];
    const s = start({
      lines: linesOf(
        [
          hello,
          { type: 'begin', pipeline: 1, kind: 'key' },
          backupLine(1, 1, 'k'),
          { type: 'begin', pipeline: 2, kind: 'certificate' },
          { type: 'restore', pipeline: 2, id: 2, vaultName: 'v', inputFile: '/d/c.blob' },
          { type: 'restore', pipeline: 2, id: 3, vaultName: 'v' },
          { type: 'end', pipeline: 1 },
          { type: 'end', pipeline: 2 },
        ].map((l) => JSON.stringify(l)),
      ),
      backup: async (r) => {
        backups.push([r.kind, r.name]);
        return ok(r);
      },
      restore: async (r) => {
        restores.push([r.kind, r.inputFile]);
        return { kind: 'certificate', vaultName: 'v', name: 'c', version: '01' };
      },
    });
    assert.equal(await s.exit, 0);
    assert.deepEqual(backups, [['key', 'k']]);
    assert.deepEqual(restores, [['certificate', '/d/c.blob']]);
    assert.deepEqual(s.out.find((m) => m.id === 2), { type: 'result', id: 2, ok: true, item: { kind: 'certificate', vaultName: 'v', name: 'c', version: '01' } });
    const invalid = s.out.find((m) => m.id === 3)!;
    assert.equal(invalid.ok, false);
    assert.equal(invalid.error.errorId, 'InvalidArgument');
    assert.deepEqual(s.out.find((m) => m.type === 'done' && m.pipeline === 2), { type: 'done', pipeline: 2, succeeded: 1, failed: 1 });
  });

  it("names a failed restore's vault and file, and the pipeline's kind, in its message", async () => {
    const s = start({
      lines: linesOf([hello, { type: 'begin', pipeline: 1, kind: 'key' }, { type: 'restore', pipeline: 1, id: 1, hsmName: 'hsm1', inputFile: '/d/k.blob' }, { type: 'end', pipeline: 1 }].map((l) => JSON.stringify(l))),
      restore: async () => Promise.reject(new BackupError('InputNotFound', "Cannot find backup key file '/d/k.blob'.")),
    });
    await s.exit;
    const failed = s.out.find((m) => m.id === 1)!;
    assert.equal(failed.error.errorId, 'InputFileNotFound');
    assert.equal(failed.error.category, 'ObjectNotFound');
    assert.equal(failed.error.message, "Cannot find backup key file '/d/k.blob'. (Managed HSM 'hsm1', file '/d/k.blob')");
    assert.equal(failed.error.vaultName, 'hsm1');
    assert.equal(failed.error.inputFile, '/d/k.blob');
  });

  it('refuses another protocol version, naming both', async () => {
    const s = start({ lines: linesOf([JSON.stringify({ type: 'hello', protocol: 1 })]), backup: async () => assert.fail('no backup expected') });
    assert.equal(await s.exit, 11);
    assert.equal(s.out[0]!.errorId, 'ProtocolVersionMismatch');
    assert.ok(s.out[0]!.message.includes('protocol 1') && s.out[0]!.message.includes(`protocol ${PROTOCOL_VERSION}`));
  });

  it('refuses work for a pipeline already answered instead of starting it again with other settings', async () => {
    const lines = new LineSource();
    const started: string[] = [];
    const s = start({ lines, backup: async (r, settings) => (started.push(`${r.name}:${settings.context}`), ok(r)) });
    lines.push(hello, { type: 'begin', pipeline: 3, context: 'c1' }, backupLine(3, 1, 'a'), { type: 'end', pipeline: 3 });
    await s.waitFor((m) => m.type === 'done');
    lines.push(backupLine(3, 2, 'b'), { type: 'begin', pipeline: 3 }, { type: 'cancel', pipeline: 3 });
    await s.waitFor((m) => m.type === 'cancelled');
    lines.close();
    assert.equal(await s.exit, 0, 'nothing was left open to abort');
    assert.deepEqual(started, ['a:c1']);
    assert.equal(s.out.filter((m) => m.type === 'protocolError').length, 2, JSON.stringify(s.out));
    assert.ok(!s.out.some((m) => m.type === 'result' && m.id === 2));
  });

  it('keeps serving after a malformed line, and refuses work for a pipeline already ended', async () => {
    const s = start({
      lines: linesOf([JSON.stringify(hello), '{oops', JSON.stringify(backupLine(0, 1, 's')), '{"type":"end"}', JSON.stringify(backupLine(0, 2, 's'))]),
      backup: async (r) => (await sleep(20), ok(r)),
    });
    assert.equal(await s.exit, 0, 'an ended pipeline still finishes after EOF');
    assert.equal(s.out[1]!.type, 'protocolError');
    assert.equal(s.out[1]!.line, 2);
    assert.ok(s.out.some((m) => m.type === 'result' && m.id === 1 && m.ok));
    assert.ok(s.out.some((m) => m.type === 'protocolError' && /already ended/.test(m.message)));
    assert.ok(!s.out.some((m) => m.id === 2));
    assert.deepEqual(s.out.at(-1), { type: 'done', pipeline: 0, succeeded: 1, failed: 0 });
  });

  it('passes tokens to the context they name and asks by context, never echoing a token', async () => {
    const supplied: string[] = [];
    let ask: ((context: string, tenant: string | undefined) => void) | undefined;
    const lines = new LineSource();
    const s = start({
      lines,
      supplyToken: (context, t) => supplied.push(`${context}:${t.token}`),
      declineToken: (context, tenant) => supplied.push(`${context}:declined ${tenant}`),
      enableTokenRequests: (send) => (ask = send),
    });
    lines.push(hello, { type: 'token', context: 'c2', token: 'tok-secret', expiresOn: 2e9 }, { type: 'tokenUnavailable', context: 'c3', tenantId: 't3' });
    await s.waitFor((m) => m.type === 'hello');
    ask!('c9', 'tenant-9');
    lines.close();
    await s.exit;
    assert.deepEqual(supplied, ['c2:tok-secret', 'c3:declined t3']);
    assert.ok(s.out.some((m) => m.type === 'tokenRequest' && m.context === 'c9' && m.tenantId === 'tenant-9'));
    assert.ok(!JSON.stringify(s.out).includes('tok-secret'));
  });
});
