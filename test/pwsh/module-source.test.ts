import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.js';
import { psQuote, runPwsh, writeShippedModule } from './run-pwsh.js';

// The module's source is one file per concern under src/module; the development loader dot-sources
// them and the build joins them (build/module.mjs). These tests hold the two to one set of functions.

const SOURCE = join(repoRoot(), 'src', 'module');

function sourceFiles(): string[] {
  return readdirSync(SOURCE, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ps1'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

interface Definitions {
  /** Function name -> how many times the file defines it (at any depth). */
  counts: Record<string, number>;
  /** Whether Backup-AzKeyVaultSecret, as this file defines it, has a clean block. */
  clean: boolean[];
}

/** The functions each file defines, read with PowerShell's own parser. */
async function definitions(files: string[]): Promise<Record<string, Definitions>> {
  const result = await runPwsh(`
    $out = @{}
    foreach ($file in @(${files.map(psQuote).join(', ')})) {
      $tokens = $null; $errors = $null
      $ast = [System.Management.Automation.Language.Parser]::ParseFile($file, [ref]$tokens, [ref]$errors)
      if ($errors.Count -gt 0) { throw ('{0}: {1}' -f $file, $errors[0].Message) }
      $functions = @($ast.FindAll({ param($n) $n -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $true))
      $counts = @{}
      foreach ($f in $functions) { $counts[$f.Name] = 1 + [int]$counts[$f.Name] }
      $clean = @($functions | Where-Object { $_.Name -eq 'Backup-AzKeyVaultSecret' } | ForEach-Object { $null -ne $_.Body.CleanBlock })
      $out[$file] = [pscustomobject]@{ counts = $counts; clean = $clean }
    }
    [pscustomobject]$out
  `, { module: null });
  assert.deepEqual(result.errors, []);
  const parsed = result.outputs[0] as Record<string, { counts: Record<string, number>; clean: boolean[] | boolean }>;
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, { counts: v.counts, clean: ([] as boolean[]).concat(v.clean ?? []) }]));
}

describe('PowerShell module: its source, one file per concern, and the shipped join', function () {
  let shipped: string;
  let defs: Record<string, Definitions>;

  before(async function () {
    shipped = mkdtempSync(join(tmpdir(), 'azkvb-shipped-'));
    writeShippedModule(shipped);
    defs = await definitions([...sourceFiles(), join(shipped, 'Az.KeyVault.Backup.psm1'), join(shipped, 'Public', 'Backup-AzKeyVaultSecret.ps1')]);
  });

  after(function () {
    if (shipped) rmSync(shipped, { recursive: true, force: true });
  });

  it('keeps every source file under 300 lines', function () {
    const long = sourceFiles()
      .map((file) => ({ file: file.slice(SOURCE.length + 1), lines: readFileSync(file, 'utf8').trimEnd().split('\n').length }))
      .filter((f) => f.lines >= 300);
    assert.deepEqual(long, []);
  });

  it('defines each function in exactly one source file, once', function () {
    const owners = new Map<string, string[]>();
    for (const file of sourceFiles()) {
      for (const [name, count] of Object.entries(defs[file]!.counts)) {
        owners.set(name, [...(owners.get(name) ?? []), ...Array<string>(count).fill(file.slice(SOURCE.length + 1))]);
      }
    }
    assert.deepEqual([...owners].filter(([, files]) => files.length !== 1), []);
  });

  it('ships every source function once, the public one in two forms: with a clean block for 7.3+ and without for older versions', function () {
    const fromSource: Record<string, number> = {};
    for (const file of sourceFiles()) for (const name of Object.keys(defs[file]!.counts)) fromSource[name] = 1;
    const psm1 = defs[join(shipped, 'Az.KeyVault.Backup.psm1')]!;
    const modern = defs[join(shipped, 'Public', 'Backup-AzKeyVaultSecret.ps1')]!;
    assert.deepEqual(psm1.counts, fromSource, 'the psm1 defines what the source defines, each once');
    assert.deepEqual(psm1.clean, [false], 'the psm1 form of the public function has no clean block');
    assert.deepEqual(modern.counts, { 'Backup-AzKeyVaultSecret': 1 });
    assert.deepEqual(modern.clean, [true], 'the 7.3+ form has its clean block');
    assert.equal(
      readFileSync(join(shipped, 'Public', 'Backup-AzKeyVaultSecret.ps1'), 'utf8'),
      readFileSync(join(SOURCE, 'public', 'Backup-AzKeyVaultSecret.ps1'), 'utf8'),
      'the 7.3+ form is the source itself',
    );
  });

  it('never reads $PSScriptRoot in the source: a dot-sourced file would see its own folder, not the module\'s', function () {
    const readers = sourceFiles().filter((file) => /\$PSScriptRoot/i.test(readFileSync(file, 'utf8')));
    assert.deepEqual(readers, []);
  });
});
