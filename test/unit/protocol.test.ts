import { strict as assert } from 'node:assert';
import { parseLine, MAX_LINE_LENGTH, PROTOCOL_VERSION } from '../../src/protocol/messages.js';
import { OrderedResults } from '../../src/protocol/ordered-results.js';
import { Limiter } from '../../src/core/throttle-limiter.js';
import { serve } from '../../src/protocol/serve.js';
import { BackupError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import type { BackupRequest } from '../../src/core/backup.js';

async function* linesOf(lines: string[]): AsyncIterable<string> {
  for (const line of lines) yield line;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('protocol messages', () => {
  it('parses hello, backup, token and end', () => {
    assert.deepEqual(parseLine('{"type":"hello","protocol":1,"client":"m"}'), { type: 'hello', protocol: 1, client: 'm' });
    assert.deepEqual(parseLine('{"type":"end"}'), { type: 'end' });
    const backup = parseLine('{"type":"backup","id":3,"vaultName":"v","name":"s","directory":"/d","force":true}');
    assert.deepEqual(backup, { type: 'backup', id: 3, request: { vaultName: 'v', name: 's', secretId: undefined, outputFile: undefined, directory: '/d', force: true } });
    const token = parseLine('{"type":"token","token":"t","expiresOn":100,"tenantId":"x","resource":"https://vault.azure.net"}');
    assert.deepEqual(token, { type: 'token', token: 't', expiresOnTimestamp: 100000, tenantId: 'x', resource: 'https://vault.azure.net' });
  });

  it('skips a UTF-8 byte order mark before a line (Windows PowerShell 5.1 writes one)', () => {
    assert.deepEqual(parseLine('\uFEFF{"type":"end"}'), { type: 'end' });
  });

  it('turns a backup with wrong fields but a readable id into a per-id error', () => {
    const message = parseLine('{"type":"backup","id":"a","vaultName":5,"directory":"/d"}');
    assert.equal(message.type, 'backupInvalid');
  });

  it('refuses malformed lines with a Protocol error', () => {
    for (const line of ['nope', '[]', '1', 'null', '{"type":"x"}', '{"type":"backup"}', '{"type":"backup","id":{}}', '{"type":"hello"}', '{"type":"token","token":""}', 'x'.repeat(MAX_LINE_LENGTH + 1)]) {
      assert.throws(() => parseLine(line), (e: unknown) => e instanceof BackupError && e.kind === 'Protocol', line.slice(0, 40));
    }
  });
});

describe('ordered results', () => {
  it('emits in reservation order as soon as the head is done', () => {
    const out: number[] = [];
    const results = new OrderedResults<number>((v) => out.push(v));
    const a = results.reserve();
    const b = results.reserve();
    const c = results.reserve();
    c(3);
    b(2);
    assert.deepEqual(out, []);
    a(1);
    assert.deepEqual(out, [1, 2, 3]);
    assert.equal(results.pending, 0);
  });
});

describe('the concurrency limiter', () => {
  it('never runs more than its limit, and a lower limit takes effect', async () => {
    const limiter = new Limiter(3);
    let running = 0;
    let peak = 0;
    const task = async () => {
      running++;
      peak = Math.max(peak, running);
      await sleep(5);
      running--;
    };
    await Promise.all(Array.from({ length: 12 }, () => limiter.run(task)));
    assert.equal(peak, 3);
    limiter.setLimit(1);
    peak = 0;
    await Promise.all(Array.from({ length: 4 }, () => limiter.run(task)));
    assert.equal(peak, 1);
  });
});

describe('serve', () => {
  const hello = JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION });
  const backupLine = (id: number, name: string) => JSON.stringify({ type: 'backup', id, vaultName: 'v', name, directory: '/d' });

  it('answers in input order while running requests concurrently', async () => {
    const out: string[] = [];
    let running = 0;
    let peak = 0;
    const code = await serve({
      lines: linesOf([hello, ...Array.from({ length: 10 }, (_, i) => backupLine(i, `s${i}`)), '{"type":"end"}']),
      write: (l) => out.push(l),
      logger: silentLogger,
      version: '9.9.9',
      concurrency: 4,
      supplyToken: () => undefined,
      backup: async (request: BackupRequest) => {
        running++;
        peak = Math.max(peak, running);
        await sleep(Math.random() * 20);
        running--;
        if (request.name === 's5') throw new BackupError('NotFound', 'gone', { status: 404, code: 'SecretNotFound' });
        return { vaultName: 'v', name: request.name!, path: `/d/${request.name}`, bytes: 1 };
      },
    });
    assert.equal(code, 0);
    const messages = out.map((l) => JSON.parse(l));
    assert.deepEqual(messages[0], { type: 'hello', protocol: PROTOCOL_VERSION, version: '9.9.9' });
    assert.deepEqual(messages.slice(1, 11).map((m) => m.id), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(messages[6].ok, false);
    assert.equal(messages[6].error.errorId, 'SecretNotFound');
    assert.equal(messages[6].error.category, 'ObjectNotFound');
    assert.deepEqual(messages[11], { type: 'bye', succeeded: 9, failed: 1 });
    assert.ok(peak > 1 && peak <= 4, `peak ${peak}`);
  });

  it('runs requests for the same file one after the other, in request order, and others alongside', async () => {
    const events: string[] = [];
    const out: string[] = [];
    const line = (id: number, extra: Record<string, unknown>) => JSON.stringify({ type: 'backup', id, vaultName: 'v', name: `s${id}`, force: true, ...extra });
    await serve({
      lines: linesOf([hello, line(1, { outputFile: '/d/same' }), line(2, { outputFile: '/d/same' }), line(3, { directory: '/d' }), '{"type":"end"}']),
      write: (l) => out.push(l),
      logger: silentLogger,
      version: '1',
      concurrency: 4,
      supplyToken: () => undefined,
      targetKey: (r) => r.outputFile,
      backup: async (r) => {
        events.push(`start ${r.name}`);
        // The first is the slowest: without ordering the second would finish first.
        await sleep(r.name === 's1' ? 40 : 5);
        events.push(`end ${r.name}`);
        return { vaultName: 'v', name: r.name!, path: r.outputFile ?? '/d/x', bytes: 1 };
      },
    });
    assert.ok(events.indexOf('end s1') < events.indexOf('start s2'), events.join(', '));
    assert.ok(events.indexOf('start s3') < events.indexOf('end s1'), 'a request for another file does not wait');
    assert.deepEqual(out.slice(1, 4).map((l) => JSON.parse(l).id), [1, 2, 3]);
  });

  it('keeps serving after a malformed line', async () => {
    const out: string[] = [];
    await serve({
      lines: linesOf([hello, '{oops', backupLine(1, 's'), '{"type":"end"}']),
      write: (l) => out.push(l),
      logger: silentLogger,
      version: '1',
      concurrency: 1,
      supplyToken: () => undefined,
      backup: async (r) => ({ vaultName: 'v', name: r.name!, path: '/d/s', bytes: 1 }),
    });
    const messages = out.map((l) => JSON.parse(l));
    assert.equal(messages[1].type, 'protocolError');
    assert.equal(messages[1].line, 2);
    assert.equal(messages[2].ok, true);
  });

  it('refuses another protocol version, naming both', async () => {
    const out: string[] = [];
    const code = await serve({
      lines: linesOf([JSON.stringify({ type: 'hello', protocol: 99 })]),
      write: (l) => out.push(l),
      logger: silentLogger,
      version: '1',
      concurrency: 1,
      supplyToken: () => undefined,
      backup: async () => assert.fail('no backup expected'),
    });
    assert.equal(code, 11);
    const message = JSON.parse(out[0]!);
    assert.equal(message.errorId, 'ProtocolVersionMismatch');
    assert.ok(message.message.includes('99') && message.message.includes(String(PROTOCOL_VERSION)));
  });

  it('cancels in-flight work and exits 130 when input ends without end', async () => {
    const out: string[] = [];
    let sawAbort = false;
    let aborted = false;
    const code = await serve({
      lines: linesOf([hello, backupLine(1, 's')]),
      write: (l) => out.push(l),
      logger: silentLogger,
      version: '1',
      concurrency: 1,
      supplyToken: () => undefined,
      onAbort: () => {
        aborted = true;
      },
      backup: (_r, signal) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            sawAbort = true;
            reject(new BackupError('Network', 'cancelled'));
          });
        }),
    });
    assert.equal(code, 130);
    assert.ok(sawAbort && aborted);
    assert.ok(!out.some((l) => JSON.parse(l).type === 'bye'));
  });

  it('passes supplied tokens to the credential, never echoing them', async () => {
    const out: string[] = [];
    const supplied: string[] = [];
    await serve({
      lines: linesOf([hello, JSON.stringify({ type: 'token', token: 'tok-secret', expiresOn: 2e9 }), '{"type":"end"}']),
      write: (l) => out.push(l),
      logger: silentLogger,
      version: '1',
      concurrency: 1,
      supplyToken: (t) => supplied.push(t.token),
      backup: async () => assert.fail('no backup expected'),
    });
    assert.deepEqual(supplied, ['tok-secret']);
    assert.ok(!out.join('\n').includes('tok-secret'));
  });
});
