import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pwshPath, repoRoot, runtimeId } from '../support/paths.js';
import { psQuote, runPwsh } from './run-pwsh.js';

// The module's PowerShell logic is tested in PowerShell: test/module mirrors src/module, one
// <file>.Tests.ps1 per source file (docs/architecture.md). This runs them with Pester in real pwsh.

// Fewer than this means discovery lost tests (a file that no longer parses, a Describe gone), which
// Pester reports as nothing failed; raise it when tests are added.
const AT_LEAST = 202;

interface PesterSummary {
  result: string;
  total: number;
  passed: number;
  failed: number;
  skipped: number;
  notRun: number;
  inconclusive: number;
  files: { path: string; result: string; tests: number; error: string }[];
  failures: { name: string; error: string }[];
  failedBlocks: { name: string; error: string }[];
}

/** Pester (build/ensure-tools.mjs installs it into .tools/Modules; a no-op once it is there). */
async function pesterManifest(): Promise<string> {
  const tools = pathToFileURL(join(repoRoot(), 'build', 'ensure-tools.mjs')).href;
  const { ensurePester } = (await import(tools)) as { ensurePester: (pwsh: string) => string };
  return ensurePester(pwshPath());
}

function moduleTestFiles(): string[] {
  const root = join(repoRoot(), 'test', 'module');
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.Tests.ps1'))
    .map((e) => relative(repoRoot(), join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
}

const PLATFORMS: Partial<Record<NodeJS.Platform, string>> = { linux: 'Linux', darwin: 'OSX', win32: 'Windows' };

describe('PowerShell module: the Pester tests of test/module', function () {
  let summary: PesterSummary;
  let files: string[];

  before(async function () {
    this.timeout(300_000);
    const pester = await pesterManifest();
    files = moduleTestFiles();
    const errorText = String.raw`(@($_.ErrorRecord | ForEach-Object { if ($_.DisplayErrorMessage) { $_.DisplayErrorMessage } else { $_.Exception.Message } }) -join [char]10)`;
    const r = await runPwsh(
      String.raw`
        Import-Module -Name ${psQuote(pester)} -Force -ErrorAction Stop
        $configuration = New-PesterConfiguration
        $configuration.Run.Path = ${psQuote(join(repoRoot(), 'test', 'module'))}
        $configuration.Run.PassThru = $true
        $configuration.Output.Verbosity = 'None'
        $run = Invoke-Pester -Configuration $configuration
        $root = ${psQuote(repoRoot())}
        ConvertTo-Json -Depth 4 -Compress -InputObject ([ordered]@{
          result = [string]$run.Result
          total = $run.TotalCount; passed = $run.PassedCount; failed = $run.FailedCount
          skipped = $run.SkippedCount; notRun = $run.NotRunCount; inconclusive = $run.InconclusiveCount
          files = @($run.Containers | ForEach-Object { [ordered]@{ path = [System.IO.Path]::GetRelativePath($root, $_.Item.FullName).Replace('\', '/'); result = [string]$_.Result; tests = $_.TotalCount; error = ${errorText} } })
          failures = @($run.Failed | ForEach-Object { [ordered]@{ name = $_.ExpandedPath; error = ${errorText} } })
          failedBlocks = @($run.FailedBlocks | ForEach-Object { [ordered]@{ name = $_.Path -join '.'; error = ${errorText} } })
        })
      `,
      {
        module: null,
        // What the build knows of this machine, for the test that the module detects it the same.
        env: { AZKVB_EXPECTED_RID: runtimeId(), AZKVB_EXPECTED_PLATFORM: PLATFORMS[process.platform] ?? process.platform },
        timeoutMs: 240_000,
      },
    );
    assert.deepEqual(r.errors, [], `Invoke-Pester itself failed (exit ${r.code}): ${r.stderr}`);
    assert.equal(r.outputs.length, 1, `expected one summary from Invoke-Pester; got ${JSON.stringify(r.outputs)}\n${r.hostOutput}\n${r.stderr}`);
    summary = JSON.parse(r.outputs[0] as string) as PesterSummary;
  });

  it('has no failed test, and no failed block or file', function () {
    const lines = [
      ...summary.failures.map((f) => `${f.name}\n    ${f.error.replace(/\n/g, '\n    ')}`),
      ...summary.failedBlocks.map((b) => `block ${b.name}\n    ${b.error.replace(/\n/g, '\n    ')}`),
      ...summary.files.filter((f) => f.result === 'Failed' && f.error).map((f) => `file ${f.path}\n    ${f.error.replace(/\n/g, '\n    ')}`),
    ];
    assert.equal(lines.length, 0, `Pester: ${summary.failed} of ${summary.total} failed:\n${lines.join('\n')}`);
    assert.equal(summary.failed, 0);
    assert.equal(summary.result, 'Passed');
  });

  it('ran every test it found: none skipped, inconclusive or not run', function () {
    assert.deepEqual({ skipped: summary.skipped, notRun: summary.notRun, inconclusive: summary.inconclusive }, { skipped: 0, notRun: 0, inconclusive: 0 });
    assert.equal(summary.passed, summary.total);
  });

  it(`found at least the ${AT_LEAST} tests written`, function () {
    assert.ok(summary.total >= AT_LEAST, `Pester found ${summary.total} tests; at least ${AT_LEAST} are written`);
  });

  it('discovered every test/module file, each with tests in it', function () {
    assert.ok(files.length >= 7, `test/module has ${files.length} .Tests.ps1 files`);
    assert.deepEqual(summary.files.map((f) => f.path).sort(), files);
    for (const f of summary.files) assert.ok(f.tests > 0, `${f.path}: no tests discovered (${f.result}${f.error ? `: ${f.error}` : ''})`);
  });
});
