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

/** The public functions: one file each, src/module/public/<Name>.ps1. */
function publicNames(): string[] {
  return readdirSync(join(SOURCE, 'public')).filter((n) => n.endsWith('.ps1')).map((n) => n.slice(0, -'.ps1'.length)).sort();
}

interface Definitions {
  /** Function name -> how many times the file defines it (at any depth). */
  counts: Record<string, number>;
  /** Public function name -> whether each definition of it in this file has a clean block. */
  clean: Record<string, boolean[]>;
}

/** The functions each file defines, read with PowerShell's own parser. */
async function definitions(files: string[]): Promise<Record<string, Definitions>> {
  const result = await runPwsh(`
    $public = @(${publicNames().map(psQuote).join(', ')})
    $out = @{}
    foreach ($file in @(${files.map(psQuote).join(', ')})) {
      $tokens = $null; $errors = $null
      $ast = [System.Management.Automation.Language.Parser]::ParseFile($file, [ref]$tokens, [ref]$errors)
      if ($errors.Count -gt 0) { throw ('{0}: {1}' -f $file, $errors[0].Message) }
      $functions = @($ast.FindAll({ param($n) $n -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $true))
      $counts = @{}
      foreach ($f in $functions) { $counts[$f.Name] = 1 + [int]$counts[$f.Name] }
      $clean = @{}
      foreach ($name in $public) { $clean[$name] = @($functions | Where-Object { $_.Name -eq $name } | ForEach-Object { $null -ne $_.Body.CleanBlock }) }
      $out[$file] = [pscustomobject]@{ counts = $counts; clean = [pscustomobject]$clean }
    }
    [pscustomobject]$out
  `, { module: null });
  assert.deepEqual(result.errors, []);
  const parsed = result.outputs[0] as Record<string, { counts: Record<string, number>; clean: Record<string, boolean[] | boolean | null> }>;
  return Object.fromEntries(
    Object.entries(parsed).map(([k, v]) => [k, { counts: v.counts, clean: Object.fromEntries(Object.entries(v.clean).map(([name, c]) => [name, ([] as boolean[]).concat(c ?? [])])) }]),
  );
}

describe('PowerShell module: its source, one file per concern, and the shipped join', function () {
  let shipped: string;
  let defs: Record<string, Definitions>;

  before(async function () {
    shipped = mkdtempSync(join(tmpdir(), 'azkvb-shipped-'));
    writeShippedModule(shipped);
    defs = await definitions([...sourceFiles(), join(shipped, 'Az.KeyVault.Backup.psm1'), ...publicNames().map((name) => join(shipped, 'Public', `${name}.ps1`))]);
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

  it('ships every source function once, each public one in two forms: with a clean block for 7.3+ and without for older versions', function () {
    const names = publicNames();
    assert.deepEqual(names, ['Backup-AzKeyVaultCertificate', 'Backup-AzKeyVaultKey', 'Backup-AzKeyVaultSecret', 'Restore-AzKeyVaultCertificate', 'Restore-AzKeyVaultKey', 'Restore-AzKeyVaultSecret']);
    const fromSource: Record<string, number> = {};
    for (const file of sourceFiles()) for (const name of Object.keys(defs[file]!.counts)) fromSource[name] = 1;
    const psm1 = defs[join(shipped, 'Az.KeyVault.Backup.psm1')]!;
    assert.deepEqual(psm1.counts, fromSource, 'the psm1 defines what the source defines, each once');
    const shippedFiles = readdirSync(join(shipped, 'Public')).sort();
    assert.deepEqual(shippedFiles, names.map((n) => `${n}.ps1`), 'one 7.3+ file per public function, and nothing else');
    for (const name of names) {
      const source = defs[join(SOURCE, 'public', `${name}.ps1`)]!;
      assert.deepEqual(source.counts, { [name]: 1 }, `public/${name}.ps1 defines ${name} and nothing else`);
      assert.deepEqual(psm1.clean[name], [false], `the psm1 form of ${name} has no clean block`);
      const modern = defs[join(shipped, 'Public', `${name}.ps1`)]!;
      assert.deepEqual(modern.counts, { [name]: 1 });
      assert.deepEqual(modern.clean[name], [true], `the 7.3+ form of ${name} has its clean block`);
      assert.equal(
        readFileSync(join(shipped, 'Public', `${name}.ps1`), 'utf8'),
        readFileSync(join(SOURCE, 'public', `${name}.ps1`), 'utf8'),
        `the 7.3+ form of ${name} is the source itself`,
      );
    }
    const psm1Text = readFileSync(join(shipped, 'Az.KeyVault.Backup.psm1'), 'utf8');
    assert.equal(psm1Text.split("if ($PSVersionTable.PSVersion -ge [version]'7.3') {").length, 2, 'one version check chooses for all of them');
  });

  it('dot-sources the caller-preference copy in each public begin block, never pastes it', function () {
    for (const name of publicNames()) {
      const text = readFileSync(join(SOURCE, 'public', `${name}.ps1`), 'utf8');
      assert.equal(text.split('. $script:ImportCallerPreference').length, 2, `${name}'s begin block dot-sources it once`);
      assert.doesNotMatch(text, /PSVariable\.GetValue|CallerPreferences/, `${name} has no copy of its own`);
    }
  });

  it('never reads $PSScriptRoot in the source: a dot-sourced file would see its own folder, not the module\'s', function () {
    const readers = sourceFiles().filter((file) => /\$PSScriptRoot/i.test(readFileSync(file, 'utf8')));
    assert.deepEqual(readers, []);
  });
});
