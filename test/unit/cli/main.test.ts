import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { packageVersion, repoRoot } from '../../support/paths.js';
import { exeEnv } from '../../support/run-exe.js';
import { runProcess, startProcess } from '../../support/spawn.js';

// src/cli/main.ts is the only file that touches the process, so its test runs it as one: the
// compiled, unbundled entry point on this Node (the integration suite runs the bundled executable).

const MAIN = join(repoRoot(), 'out', 'src', 'cli', 'main.js');
const HELLO = `${JSON.stringify({ type: 'hello', protocol: 3, client: 'main.test' })}\n`;

describe('the entry point', function () {
  this.timeout(20_000);
  const env = exeEnv({});

  it("answers --version alone with package.json's version, and nothing else", async () => {
    const run = await runProcess(process.execPath, [MAIN, '--version'], { env, cwd: '/' });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `${packageVersion()}\n`);
    assert.equal(run.stderr, '');
  });

  it('ignores NODE_TLS_REJECT_UNAUTHORIZED=0 and says so; =1 says nothing', async () => {
    const args = [MAIN, 'backup', '--vault-name', 'bad_name', '--name', 's', '-d', '/tmp'];
    const off = await runProcess(process.execPath, args, { env: { ...env, NODE_TLS_REJECT_UNAUTHORIZED: '0' } });
    assert.equal(off.code, 2, off.stderr);
    assert.equal(off.stderr.split('\n').filter((l) => l.startsWith('WARNING: NODE_TLS_REJECT_UNAUTHORIZED="0" is ignored')).length, 1, off.stderr);
    const on = await runProcess(process.execPath, args, { env: { ...env, NODE_TLS_REJECT_UNAUTHORIZED: '1' } });
    assert.equal(on.code, 2, on.stderr);
    assert.doesNotMatch(on.stderr, /NODE_TLS_REJECT_UNAUTHORIZED/);
  });

  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    it(`exits 130 on ${signal}, by its handler rather than killed by the signal`, async () => {
      const serve = startProcess(process.execPath, [MAIN, 'serve'], { env, stdin: 'open' });
      serve.child.stdin!.write(HELLO);
      await new Promise<void>((resolve) => serve.child.stdout!.on('data', () => serve.stdout().includes('"hello"') && resolve()));
      serve.child.kill(signal);
      const run = await serve.done;
      assert.deepEqual([run.code, run.signal], [130, null], run.stderr);
    });
  }

  it('exits 130 instead of crashing when its reader goes away (EPIPE on stdout)', async () => {
    const serve = startProcess(process.execPath, [MAIN, 'serve'], { env, stdin: 'open' });
    serve.child.stdout!.destroy();
    serve.child.stdin!.write(HELLO);
    const run = await serve.done;
    assert.deepEqual([run.code, run.signal], [130, null], run.stderr);
    assert.doesNotMatch(run.stderr, /EPIPE|Error/, 'no unhandled stream error');
  });
});
