// `npm test`: compile, lint, build the native executable, then the mocha suites on Node 22 (the
// Azure SDK needs it, whatever Node runs npm). Arguments (after `npm test --`) go to mocha, e.g.
//   npm test -- --grep "Backup-AzKeyVaultSecret"
// Fast loops run one suite with only what it needs (`--only unit|exe|pwsh|release|windows`):
//   npm run test:unit    tsc + unit tests (no build)
//   npm run test:pwsh    tsc + this machine's executable + the PowerShell tests
//   npm run test:release tsc + the five executables and packages + the release tests
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build, exePath } from './build.mjs';
import { ensureDebianPackages, ensurePester, ensureTools } from './ensure-tools.mjs';
import { ALL_RIDS, hostRid, repoRoot } from './node-runtime.mjs';
import { release } from './release.mjs';
import { ensureWindowsPwsh } from './windows-pwsh.mjs';

const SUITES = ['unit', 'exe', 'pwsh', 'release', 'windows'];
let argv = process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === '--'));
let only;
if (argv[0] === '--only' || argv[0]?.startsWith('--only=')) {
  only = argv[0] === '--only' ? argv[1] : argv[0].slice('--only='.length);
  argv = argv.slice(argv[0] === '--only' ? 2 : 1);
  if (!SUITES.includes(only)) {
    process.stderr.write(`[test] --only takes one of ${SUITES.join(', ')}; got '${only}'\n`);
    process.exit(2);
  }
}
const mochaArgs = argv;
const wants = (suite) => only === undefined || only === suite;
const results = [];

function log(message) {
  process.stderr.write(`[test] ${message}\n`);
}

async function phase(name, fn, { fatal = true } = {}) {
  const started = Date.now();
  log(`── ${name}`);
  let outcome = 'ok';
  try {
    const result = await fn();
    if (result === 'skipped') outcome = 'skipped';
  } catch (error) {
    outcome = 'FAILED';
    log(`${name} failed: ${error.message}`);
  }
  const seconds = (Date.now() - started) / 1000;
  results.push({ name, outcome, seconds });
  log(`── ${name}: ${outcome} (${seconds.toFixed(1)} s)`);
  if (outcome === 'FAILED' && fatal) finish();
}

function finish() {
  log('summary:');
  for (const r of results) log(`  ${r.name.padEnd(28)} ${r.outcome.padEnd(8)} ${r.seconds.toFixed(1).padStart(6)} s`);
  const failed = results.some((r) => r.outcome === 'FAILED');
  process.exit(failed ? 1 : 0);
}

function run(cmd, args, env = process.env) {
  const result = spawnSync(cmd, args, { stdio: 'inherit', cwd: repoRoot, env });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${path.basename(cmd)} exited with ${result.status ?? result.signal}`);
}

function testFiles(dir) {
  const root = path.join(repoRoot, dir);
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.test.js'))
    .map((e) => path.relative(repoRoot, path.join(e.parentPath ?? e.path, e.name)));
}

let tools;
let exe;

await phase('tools (node 22, pwsh, pester)', () => {
  // Only what every suite needs: a machine without Wine or qemu still runs tsc, lint and the
  // unit, executable and PowerShell tests; the release phase below asks for the rest.
  tools = ensureTools({ uses: [] });
  log(`node22 ${tools.node22}`);
  log(`pwsh   ${tools.pwsh}`);
  // The PowerShell suite runs the module's Pester tests (test/pwsh/pester.test.ts).
  if (wants('pwsh')) log(`pester ${ensurePester(tools.pwsh)}`);
});

await phase('tsc', () => {
  // A fresh out/ so a test whose source was deleted or renamed cannot keep running from stale output.
  rmSync(path.join(repoRoot, 'out'), { recursive: true, force: true });
  run(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
});

if (only === undefined) await phase('eslint', () => run(process.execPath, [path.join(repoRoot, 'node_modules', 'eslint', 'bin', 'eslint.js'), '.']), { fatal: false });

if (only !== 'unit') {
  await phase(`build (${hostRid()})`, async () => {
    await build([]);
    exe = exePath(hostRid());
  });
}

const mocha = path.join(repoRoot, 'node_modules', 'mocha', 'bin', 'mocha.js');
// AZKVB_BUILD_NODE: the Node that ran the build and release, for tests that run them again.
const env = { ...process.env, AZKVB_EXE: exe, AZKVB_PWSH: tools.pwsh, AZKVB_NODE22: tools.node22, AZKVB_BUILD_NODE: process.execPath };

if (wants('unit')) await phase('unit tests', () => {
  const files = testFiles('out/test/unit');
  if (!files.length) {
    log('no out/test/unit/**/*.test.js yet');
    return 'skipped';
  }
  run(tools.node22, [mocha, ...files, ...mochaArgs], env);
}, { fatal: false });

// The other four executables and the packages, for the release tests below: Wine and qemu-user
// runs, binary formats, installing a zip as users do. Not fatal, so the other suites still run.
if (wants('release') || wants('windows')) await phase('release packages (5 platforms)', async () => {
  ensureDebianPackages(['release', 'emulate']);
  await build(ALL_RIDS.filter((rid) => rid !== hostRid()).flatMap((rid) => ['--rid', rid]));
  await release(['--skip-build']);
}, { fatal: false });

const SHARED_VAULT_SUITES = {
  exe: ['out/test/integration', 'out/test/reliability'],
  pwsh: ['out/test/pwsh'],
  release: ['out/test/release'],
};
if (wants('exe') || wants('pwsh') || wants('release')) await phase(only === undefined ? 'integration + pwsh + release tests' : `${only} tests`, () => {
  const dirs = only === undefined ? Object.values(SHARED_VAULT_SUITES).flat() : SHARED_VAULT_SUITES[only];
  const files = dirs.flatMap((dir) => testFiles(dir));
  if (!files.length) {
    log('no out/test/integration or out/test/pwsh tests yet');
    return 'skipped';
  }
  // One mocha process for both, so the root hooks start one local vault for the whole run.
  const hooks = path.join('out', 'test', 'support', 'hooks.js');
  if (!existsSync(path.join(repoRoot, hooks))) throw new Error(`${hooks} is missing; the integration tests need its local vault`);
  run(tools.node22, [mocha, '--require', hooks, '--timeout', '60000', ...files, ...mochaArgs], env);
}, { fatal: false });

// The module with Windows semantics: PowerShell 7.6.9 for Windows under Wine, the win-x64 zip from
// the release phase, the local vault. Its own mocha process (and local vault), after the others.
if (wants('windows')) await phase('windows pwsh tests (Wine)', () => {
  const files = testFiles('out/test/windows');
  if (!files.length) {
    log('no out/test/windows tests yet');
    return 'skipped';
  }
  ensureDebianPackages(['emulate', 'windows']);
  const started = Date.now();
  const host = ensureWindowsPwsh();
  log(`PowerShell for Windows: ${path.relative(repoRoot, host.pwshExe)}, prefix ${path.relative(repoRoot, host.prefix)} (ready in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  const hooks = path.join('out', 'test', 'support', 'hooks.js');
  run(tools.node22, [mocha, '--require', hooks, '--timeout', '120000', ...files, ...mochaArgs], env);
}, { fatal: false });

finish();
