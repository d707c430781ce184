import { strict as assert } from 'node:assert';
import { parseLine, MAX_LINE_LENGTH } from '../../../src/protocol/messages.js';
import { BackupError } from '../../../src/core/errors.js';

describe('protocol messages', () => {
  it('parses hello, backup, token and end', () => {
    assert.deepEqual(parseLine('{"type":"hello","protocol":2,"client":"m"}'), { type: 'hello', protocol: 2, client: 'm' });
    assert.deepEqual(parseLine('{"type":"end"}'), { type: 'end', pipeline: 0 });
    assert.deepEqual(parseLine('{"type":"end","pipeline":4}'), { type: 'end', pipeline: 4 });
    assert.deepEqual(parseLine('{"type":"cancel","pipeline":4}'), { type: 'cancel', pipeline: 4 });
    assert.deepEqual(parseLine('{"type":"begin","pipeline":4,"context":"c1","dnsSuffix":"vault.azure.cn","concurrency":3,"logLevel":"debug"}'), {
      type: 'begin',
      pipeline: 4,
      settings: { context: 'c1', dnsSuffix: 'vault.azure.cn', concurrency: 3, logLevel: 'debug' },
    });
    const backup = parseLine('{"type":"backup","pipeline":4,"id":3,"vaultName":"v","name":"s","directory":"/d","force":true,"after":2}');
    assert.deepEqual(backup, { type: 'backup', pipeline: 4, id: 3, after: 2, request: { vaultName: 'v', name: 's', secretId: undefined, outputFile: undefined, directory: '/d', force: true } });
    const token = parseLine('{"type":"token","context":"c1","token":"t","expiresOn":100,"tenantId":"x","resource":"https://vault.azure.net"}');
    assert.deepEqual(token, { type: 'token', context: 'c1', token: 't', expiresOnTimestamp: 100000, tenantId: 'x', resource: 'https://vault.azure.net' });
  });

  it('skips a UTF-8 byte order mark before a line (Windows PowerShell 5.1 writes one)', () => {
    assert.deepEqual(parseLine('\uFEFF{"type":"end"}'), { type: 'end', pipeline: 0 });
  });

  it('turns a backup with wrong fields but a readable id into a per-id error', () => {
    const message = parseLine('{"type":"backup","id":"a","vaultName":5,"directory":"/d"}');
    assert.equal(message.type, 'invalid');
  });

  it('refuses malformed lines with a Protocol error', () => {
    for (const line of ['nope', '[]', '1', 'null', '{"type":"x"}', '{"type":"backup"}', '{"type":"backup","id":{}}', '{"type":"hello"}', '{"type":"token","token":""}', '{"type":"end","pipeline":-1}', '{"type":"end","pipeline":1.5}', '{"type":"begin","concurrency":65}', '{"type":"begin","logLevel":"loud"}', '{"type":"backup","id":1,"after":{}}', 'x'.repeat(MAX_LINE_LENGTH + 1)]) {
      assert.throws(() => parseLine(line), (e: unknown) => e instanceof BackupError && e.kind === 'Protocol', line.slice(0, 40));
    }
  });

  it("parses a pipeline's kind, a Managed HSM's name and a restore, and refuses an unknown kind", () => {
    assert.deepEqual(parseLine('{"type":"begin","pipeline":4,"kind":"certificate"}'), { type: 'begin', pipeline: 4, settings: { context: '', kind: 'certificate' } });
    assert.throws(() => parseLine('{"type":"begin","pipeline":4,"kind":"blob"}'), (e: unknown) => e instanceof BackupError && e.kind === 'Protocol');
    const backup = parseLine('{"type":"backup","pipeline":4,"id":3,"hsmName":"hsm1","name":"k","directory":"/d"}');
    assert.equal(backup.type === 'backup' && backup.request.hsmName, 'hsm1');
    assert.deepEqual(parseLine('{"type":"restore","pipeline":4,"id":5,"vaultName":"v","inputFile":"/d/f"}'), { type: 'restore', pipeline: 4, id: 5, request: { vaultName: 'v', inputFile: '/d/f' } });
    assert.deepEqual(parseLine('{"type":"restore","id":6,"hsmName":"h1x","inputFile":"/d/f"}'), { type: 'restore', pipeline: 0, id: 6, request: { vaultName: undefined, hsmName: 'h1x', inputFile: '/d/f' } });
  });

  it('turns a restore without a readable input file into a per-id error, and one without an id into a Protocol error', () => {
    for (const line of ['{"type":"restore","id":1,"vaultName":"v"}', '{"type":"restore","id":1,"vaultName":"v","inputFile":7}']) {
      const message = parseLine(line);
      assert.ok(message.type === 'invalid' && message.error.kind === 'InvalidArgument', line);
    }
    assert.throws(() => parseLine('{"type":"restore","inputFile":"/f"}'), (e: unknown) => e instanceof BackupError && e.kind === 'Protocol');
  });
});
