import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createParser, type CliEnvironment } from '../../../src/cli/parser.js';
import { TempFileRegistry } from '../../../src/core/atomic-write.js';
import { BackupCredential } from '../../../src/core/credential.js';
import { silentLogger } from '../../../src/core/logger.js';

function harness(env: Record<string, string> = {}, input: string[] = []) {
  const out: string[] = [];
  const err: string[] = [];
  let exitCode: number | undefined;
  let credentialAsked = 0;
  const cli: CliEnvironment = {
    version: '1.2.3',
    env,
    cwd: process.cwd(),
    stdout: (l) => out.push(l),
    stderr: (l) => err.push(l),
    stdinLines: async function* () {
      yield* input;
    },
    setExitCode: (c) => {
      exitCode = c;
    },
    fs: { isDirectory: () => false, exists: () => false },
    now: () => 1_000,
    registry: new TempFileRegistry(),
    // A credential that records being asked proves no request was attempted.
    makeCredential: () =>
      new BackupCredential(silentLogger, async () => ({
        getToken: async () => {
          credentialAsked++;
          return null;
        },
      })),
  };
  return { cli, out, err, exitCode: () => exitCode, credentialAsked: () => credentialAsked };
}

describe('the command line', () => {
  it('prints its version', async () => {
    const h = harness();
    let printed = '';
    await createParser(h.cli).parseAsync(['--version'], {}, (_e, _a, output) => {
      printed = output;
    });
    assert.equal(printed.trim(), '1.2.3');
  });

  it('shows help with examples and exit codes for backup', async () => {
    const h = harness();
    let printed = '';
    await createParser(h.cli).parseAsync(['backup', '--help'], {}, (_e, _a, output) => {
      printed = output;
    });
    assert.match(printed, /Examples:/);
    assert.match(printed, /--vault-dns-suffix/);
    assert.match(printed, /SecretNotFound/);
  });

  it('fails with exit code 2 on unknown options or a missing name', async () => {
    for (const argv of [['backup', '--vault-name', 'v', '--bogus'], ['backup', '--vault-name', 'abc'], []]) {
      const h = harness();
      await createParser(h.cli).parseAsync(argv, {}, () => undefined);
      assert.equal(h.exitCode(), 2, argv.join(' '));
    }
  });

  it('rejects bad names with exit code 2 before any request', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'azkvb-cli-'));
    try {
      for (const [vault, name] of [['a b', 'x'], ['demo', 'a/b'], ['demo', '..'], ['demo', 'a%2Fb'], ['demo', 'x'.repeat(128)]]) {
        const h = harness();
        await createParser(h.cli).parseAsync(['backup', '--vault-name', vault!, '--name', name!, '-d', dir]);
        assert.equal(h.exitCode(), 2);
        assert.equal(h.credentialAsked(), 0);
        assert.match(h.err.join('\n'), /InvalidArgument/);
      }
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a plain-http vault address from the environment', async () => {
    const h = harness({ AZ_KEYVAULT_BACKUP_VAULT_URL: 'http://127.0.0.1:1/{vault}' });
    await createParser(h.cli).parseAsync(['backup', '--vault-name', 'demo', '--name', 's']);
    assert.equal(h.exitCode(), 2);
    assert.match(h.err.join('\n'), /https/);
  });

  it('refuses a concurrency outside 1-64 for serve', async () => {
    const h = harness();
    await createParser(h.cli).parseAsync(['serve', '--concurrency', '0'], {}, () => undefined);
    assert.equal(h.exitCode(), 2);
  });
});

describe('the command line: retry and timeout limits', () => {
  it('refuses retries and timeouts outside their ranges with exit code 2', async () => {
    for (const argv of [
      ['backup', '--vault-name', 'abc', '--name', 's', '--max-retries', '11'],
      ['backup', '--vault-name', 'abc', '--name', 's', '--max-retries', '-1'],
      ['backup', '--vault-name', 'abc', '--name', 's', '--max-retries', '1.5'],
      ['serve', '--timeout-seconds', '0'],
      ['serve', '--timeout-seconds', '99999'],
      ['serve', '--idle-timeout-seconds', '-1'],
      ['serve', '--idle-timeout-seconds', '86401'],
      ['serve', '--idle-timeout-seconds', 'soon'],
    ]) {
      const h = harness();
      await createParser(h.cli).parseAsync(argv, {}, () => undefined);
      assert.equal(h.exitCode(), 2, argv.join(' '));
      assert.equal(h.credentialAsked(), 0);
    }
  });
});

describe('the command line: serve speaks protocol 3', () => {
  it('answers a protocol-3 hello with its version and an end of pipeline 0 with done, exit 0, asking no credential', async () => {
    const h = harness({}, ['{"type":"hello","protocol":3,"client":"unit"}', '{"type":"end"}']);
    await createParser(h.cli).parseAsync(['serve', '--idle-timeout-seconds', '0']);
    assert.equal(h.exitCode(), 0, h.err.join('\n'));
    assert.deepEqual(h.out.map((l) => JSON.parse(l)), [
      { type: 'hello', protocol: 3, version: '1.2.3' },
      { type: 'done', pipeline: 0, succeeded: 0, failed: 0 },
    ]);
    assert.equal(h.credentialAsked(), 0);
  });

  it('refuses a protocol-1 hello with ProtocolVersionMismatch and exit 11', async () => {
    const h = harness({}, ['{"type":"hello","protocol":1}', '{"type":"end"}']);
    await createParser(h.cli).parseAsync(['serve']);
    assert.equal(h.exitCode(), 11);
    assert.equal(h.out.length, 1, h.out.join('\n'));
    const answer = JSON.parse(h.out[0]!) as { errorId: string; protocol: number };
    assert.deepEqual([answer.errorId, answer.protocol], ['ProtocolVersionMismatch', 3]);
  });
});

describe('the command line: the cloud', () => {
  it('takes the vault DNS suffix from AZ_KEYVAULT_BACKUP_VAULT_DNS_SUFFIX when no option gives it, and refuses a bad one', async () => {
    const h = harness({ AZ_KEYVAULT_BACKUP_VAULT_DNS_SUFFIX: 'evil.com/x' });
    await createParser(h.cli).parseAsync(['backup', '--vault-name', 'abc', '--name', 's', '-d', '/tmp']);
    assert.equal(h.exitCode(), 2);
    assert.match(h.err.join('\n'), /evil\.com\/x/);
    assert.equal(h.credentialAsked(), 0);
  });
});
