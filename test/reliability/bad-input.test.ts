import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import type { LocalVault } from '../support/local-vault/index.js';
import { runExe } from '../support/run-exe.js';
import { listing } from './support.js';
import { useExeFixture } from '../support/exe-fixture.js';
import { parseLines, resultsById } from '../support/serve-session.js';

// Bad input is refused before anything is sent: the local vault's request log
// stays empty, and the message quotes the value that was refused (JSON-quoted,
// so control characters and spaces are visible).

const VAULT = 'badinput';
const LONG = 'a'.repeat(128);

const BAD_VAULT_NAMES = ['', 'ab', 'a'.repeat(25), '1vault', '-vault', 'vault-', 'va--ult', 'va/ult', '..', 'va?ult', 'va#ult', 'va%2Fult', 'va ult', ' vault', 'vault\t', 'va\u0001ult', 'va\nult', 'väult', 'va.ult', 'va_ult'];
const BAD_SECRET_NAMES = ['', 'a/b', '/', '..', '.', '../x', 'a?b', 'a#b', 'a%2Fb', '%2e%2e', 'a b', ' a', 'a\u0007b', 'a\r\nb', LONG, 'é', 'a_b', 'a.b', 'a\\b', 'a\u202eb'];
const BAD_SECRET_IDS = [
  '',
  'not a uri',
  'myvault/secrets/s',
  'http://badinput.vault.azure.net/secrets/s',
  'ftp://badinput.vault.azure.net/secrets/s',
  'https://evil.example.com/secrets/s',
  'https://badinput.vault.azure.net.evil.example.com/secrets/s',
  'https://badinput.evil.example.com/secrets/s',
  'https://vault.azure.net/secrets/s',
  'https://badinput.vault.azure.net:8443/secrets/s',
  'https://user:pass@badinput.vault.azure.net/secrets/s',
  'https://badinput.vault.azure.net/keys/s',
  'https://badinput.vault.azure.net/secrets/',
  'https://badinput.vault.azure.net/secrets/a%2Fb',
  'https://badinput.vault.azure.net/secrets/s/v1/extra',
  'https://badinput.vault.azure.net/secrets/s/not-a-version!',
  'https://badinput.vault.azure.net/secrets/s?api-version=1',
  'https://badinput.vault.azure.net/secrets/s#frag',
  'https://b--d.vault.azure.net/secrets/s',
  `https://badinput.vault.azure.net/secrets/${LONG}`,
  'https://badinput.vault.azure.net/secrets/my\tsecret',
  ' https://badinput.vault.azure.net/secrets/s',
  'https://badinput.vault.azure.net/secrets/s?',
  'https:\\\\badinput.vault.azure.net\\secrets\\s',
  'https://\uff42adinput.vault.azure.net/secrets/s',
];

describe('reliability: bad input is refused before any request', function () {
  this.timeout(60_000);
  let vault: LocalVault;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  const fixture = useExeFixture('azkvb-badinput-');
  before(() => {
    fixture.vault.setSecret(VAULT, 'fine', 'value');
  });
  beforeEach(() => {
    ({ vault, env } = fixture);
    dir = fixture.dir;
  });

  /** Runs a few at a time: each is a separate process, and none of them should ever reach the vault. */
  async function refusedByCli(argsList: string[][], quoted: string[]): Promise<void> {
    for (let i = 0; i < argsList.length; i += 6) {
      const runs = await Promise.all(argsList.slice(i, i + 6).map((args) => runExe(args, { env })));
      runs.forEach((run, j) => {
        const k = i + j;
        assert.equal(run.code, 2, `${JSON.stringify(argsList[k])}: ${run.stderr}`);
        assert.match(run.stderr, /^az-keyvault-backup: InvalidArgument: /m);
        assert.ok(run.stderr.includes(quoted[k]!), `${JSON.stringify(argsList[k])} should be quoted in: ${run.stderr}`);
        assert.equal(run.stdout, '');
      });
    }
    assert.deepEqual(vault.requests, [], 'no request reached the vault (or its token endpoint)');
    assert.deepEqual(listing(dir), []);
  }

  // Only the first line of a quoted value with a newline is compared: JSON.stringify keeps it on one line anyway.
  const quote = (value: string) => JSON.stringify(value.length > 140 ? `${value.slice(0, 140)}…` : value);

  it('vault names that break the naming rules (CLI): InvalidArgument (exit 2) quoting the name', async () => {
    await refusedByCli(BAD_VAULT_NAMES.map((v) => ['backup', `--vault-name=${v}`, '--name', 'fine', '-d', dir]), BAD_VAULT_NAMES.map(quote));
  });

  it('secret names that break the naming rules (CLI): InvalidArgument (exit 2) quoting the name', async () => {
    await refusedByCli(BAD_SECRET_NAMES.map((n) => ['backup', '--vault-name', VAULT, `--name=${n}`, '-d', dir]), BAD_SECRET_NAMES.map(quote));
  });

  it('secret identifiers that are not a Key Vault secret URI or point to another host (CLI): InvalidArgument (exit 2)', async () => {
    await refusedByCli(
      BAD_SECRET_IDS.map((id) => ['backup', `--secret-id=${id}`, '-d', dir]),
      BAD_SECRET_IDS.map((id) => (id === '' ? '""' : quote(id))),
    );
  });

  it('the same names, identifiers and bad paths in serve mode: one InvalidArgument result each, no request, serving goes on', async () => {
    const requests: Array<Record<string, unknown>> = [
      ...BAD_VAULT_NAMES.map((vaultName) => ({ vaultName, name: 'fine', directory: dir })),
      ...BAD_SECRET_NAMES.map((name) => ({ vaultName: VAULT, name, directory: dir })),
      ...BAD_SECRET_IDS.map((secretId) => ({ secretId, directory: dir })),
      { vaultName: VAULT, name: 'fine', outputFile: 'relative.blob' },
      { vaultName: VAULT, name: 'fine', directory: '' },
      { vaultName: VAULT, name: 'fine', directory: `${dir}\u0000x` },
      { vaultName: VAULT, name: 'fine', directory: dir, outputFile: path.join(dir, 'f') },
      { vaultName: VAULT, name: 'fine' },
      { vaultName: VAULT, secretId: `https://${VAULT}.vault.azure.net/secrets/fine`, directory: dir },
      { vaultName: 5, name: 'fine', directory: dir },
      { vaultName: VAULT, name: ['fine'], directory: dir },
      { vaultName: VAULT, name: 'fine', directory: { path: dir } },
      { vaultName: VAULT, name: 'fine', directory: dir, force: 'yes' },
      { vaultName: null, name: null, directory: dir },
    ];
    const lines = [JSON.stringify({ type: 'hello', protocol: 3, client: 'reliability' })];
    requests.forEach((r, id) => lines.push(JSON.stringify({ type: 'backup', id, force: false, ...r })));
    lines.push('{"type":"end"}');
    const run = await runExe(['serve'], { env, input: `${lines.join('\n')}\n` });
    assert.equal(run.code, 0, run.stderr);
    const out = parseLines(run.stdout);
    const results = resultsById(out);
    assert.equal(results.length, requests.length);
    results.forEach((result, i) => {
      assert.equal(result.id, i);
      assert.equal(result.ok, false, JSON.stringify(requests[i]));
      assert.equal(result.error?.kind, 'InvalidArgument', `${JSON.stringify(requests[i])}: ${result.error?.message}`);
    });
    assert.deepEqual(out.at(-1), { type: 'done', pipeline: 0, succeeded: 0, failed: requests.length });
    assert.deepEqual(vault.requests, []);
    assert.deepEqual(listing(dir), []);
  });

  it('malformed protocol lines get a protocolError each, and the executable keeps serving', async () => {
    const malformed = [
      '{broken',
      '[]',
      '"just a string"',
      '42',
      'null',
      '{}',
      '{"type":"nope"}',
      '{"type":"backup"}',
      '{"type":"backup","id":{}}',
      '{"type":"backup","id":""}',
      `{"type":"backup","id":"${'x'.repeat(300)}"}`,
      '{"type":"token","token":"","expiresOn":1}',
      '{"type":"token","token":"abc"}',
      '{"type":"hello","protocol":1}',
      '{"type":"hello","protocol":3}',
      '{"type":"end","pipeline":-1}',
      '{"type":"end","pipeline":"1"}',
      '{"type":"cancel","pipeline":1.5}',
      '{"type":"begin","pipeline":4,"concurrency":0}',
      '{"type":"begin","pipeline":4,"concurrency":65}',
      '{"type":"begin","pipeline":4,"logLevel":"loud"}',
      '{"type":"begin","pipeline":4,"dnsSuffix":7}',
      '{"type":"begin","pipeline":4,"context":{}}',
      `{"type":"token","context":"${'c'.repeat(201)}","token":"abc","expiresOn":1}`,
      '{"type":"backup","id":2,"pipeline":-3,"vaultName":"badinput","name":"fine","directory":"/tmp"}',
      '{"type":"backup","id":3,"after":{},"vaultName":"badinput","name":"fine","directory":"/tmp"}',
      `{"type":"backup","id":1,"name":"${'a'.repeat(70 * 1024)}"}`,
      '\u0000\u0001\u0002',
      '\ufeff{broken', // a BOM is skipped (Windows PowerShell 5.1 writes one), the rest must still be JSON
      '{"type":"end"',
    ];
    const good = { type: 'backup', id: 'after', vaultName: VAULT, name: 'fine', directory: dir, force: false };
    // Lines that are well formed but wrong for the session's state: a second begin for an open pipeline.
    const misplaced = ['{"type":"begin","pipeline":5}', '{"type":"begin","pipeline":5}'];
    const input = [
      '{"type":"backup","id":0}', // before the handshake
      JSON.stringify({ type: 'hello', protocol: 3, client: 'reliability' }),
      ...malformed,
      JSON.stringify(good),
      ...misplaced,
      '{"type":"end","pipeline":5}',
      '{"type":"end"}',
    ].join('\n');
    const run = await runExe(['serve'], { env, input: `${input}\n` });
    assert.equal(run.code, 0, run.stderr);
    const out = parseLines(run.stdout);
    const errors = out.filter((l) => l.type === 'protocolError');
    const secondBegin = 2 + malformed.length + 1 + misplaced.length;
    assert.deepEqual(errors.map((e) => e.line), [1, ...malformed.map((_, i) => i + 3), secondBegin], `each error names its line: ${JSON.stringify(out)}`);
    assert.match(errors.at(-1)!.message!, /Pipeline 5 was already begun/);
    assert.ok(errors.every((e) => e.errorId === 'ProtocolError' && e.kind === 'Protocol'));
    const results = out.filter((l) => l.type === 'result');
    assert.deepEqual(results.map((r) => [r.id, r.ok]), [['after', true]], 'the request after the bad lines still runs; the refused backups got no result');
    assert.deepEqual(out.filter((l) => l.type === 'done'), [{ type: 'done', pipeline: 5, succeeded: 0, failed: 0 }, { type: 'done', pipeline: 0, succeeded: 1, failed: 0 }]);
    assert.equal(out.at(-1)!.type, 'done');
  });
});
