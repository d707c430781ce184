import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFINE_AZ_TYPES } from '../pwsh/az-types.js';
import { backedUp, backupRequests, seed, uniqueVaultName } from '../pwsh/vault-fixtures.js';
import { MODULE_NAME } from '../release/support.js';
import { sharedVault } from '../support/hooks.js';
import type { LocalVault } from '../support/local-vault/index.js';
import { DriveC, psQuote, unzipRelease, windowsHost, WindowsPwsh, zPath, type WindowsRun } from './support.js';

// The module as Windows users run it: PowerShell 7.6.9 for Windows (under Wine), the win-x64
// release zip unpacked into a PSModulePath folder on C: and imported by name, the real win-x64
// executable, the local vault over HTTPS with its own CA and a managed-identity endpoint on
// loopback. Each test is one pwsh start (2+ s under Wine), so each batches its checks.
const EXE = 'az-keyvault-backup.exe';

describe('Windows: the module under PowerShell 7.6.9 for Windows (Wine)', function () {
  this.timeout(120_000);
  let vault: LocalVault;
  let pwsh: WindowsPwsh;
  let drive: DriveC;
  let modules: { linux: string; windows: string };
  let allPackage: { linux: string; windows: string };
  let work: { linux: string; windows: string };

  before(async function () {
    this.timeout(300_000);
    vault = sharedVault();
    const host = await windowsHost();
    drive = new DriveC(host.prefix);
    modules = drive.fresh('Modules');
    await unzipRelease('win-x64', modules.linux);
    allPackage = drive.fresh('all');
    await unzipRelease('all', allPackage.linux);
    pwsh = new WindowsPwsh(host, modules.windows);
    pwsh.startServer();
  });
  after(function () {
    pwsh?.stopServer();
    for (const dir of [modules, allPackage]) if (dir) rmSync(dir.linux, { recursive: true, force: true });
  });
  beforeEach(function () {
    work = drive.fresh('work');
  });
  afterEach(function () {
    rmSync(work.linux, { recursive: true, force: true });
  });

  /** The vault's environment, with the CA as Windows programs name it. */
  const env = (): Record<string, string> => ({ ...vault.env(), NODE_EXTRA_CA_CERTS: zPath(vault.caFile) });
  const run = (script: string): Promise<WindowsRun> => pwsh.run(script, { env: env() });
  const blob = (v: string, name: string): Buffer => {
    const b = vault.lastBackupBlob(v, name);
    assert.ok(b && b.length > 0, `the vault handed out a backup of ${v}/${name}`);
    return b;
  };
  const assertBytes = (windowsPath: string, v: string, name: string): void => {
    assert.deepEqual(readFileSync(drive.linuxPath(windowsPath)), blob(v, name), `${windowsPath} holds the backup of ${name}`);
  };
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  /** `<dir>\<vault>-<name>-<epoch seconds[.fraction]>` lower-cased, with Windows separators. */
  const defaultName = (dir: string, v: string, name: string): RegExp => new RegExp(`^${escape(`${dir}\\${`${v}-${name}`.toLowerCase()}`)}-\\d{9,}(\\.\\d+)?$`);
  const noErrors = (r: WindowsRun): void => assert.deepEqual(r.errors, [], `no errors (stderr: ${r.stderr.slice(-500)})`);

  it('is Windows: $IsWindows, Win32NT, 7.6.9 Core; imports the zip by name and starts bin\\win-x64\\az-keyvault-backup.exe, also from the all-platform package', async function () {
    const v = uniqueVaultName('win');
    seed(vault, v, ['first', 'second']);
    const allManifest = `${allPackage.windows}\\${MODULE_NAME}\\${MODULE_NAME}.psd1`;
    const r = await run(`
      [pscustomobject]@{ isWindows = $IsWindows; isLinux = $IsLinux; platform = [string][System.Environment]::OSVersion.Platform; edition = $PSVersionTable.PSEdition; version = $PSVersionTable.PSVersion.ToString(); module = (Get-Module ${MODULE_NAME}).ModuleBase }
      Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'first' -OutputFile ${psQuote(`${work.windows}\\first.blob`)} -Verbose
      Remove-Module ${MODULE_NAME}
      Import-Module ${psQuote(allManifest)}
      [pscustomobject]@{ module = (Get-Module ${MODULE_NAME}).ModuleBase; rids = @(Get-ChildItem -Directory ((Get-Module ${MODULE_NAME}).ModuleBase + '\\bin') | ForEach-Object Name) }
      Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'second' -OutputFile ${psQuote(`${work.windows}\\second.blob`)} -Verbose
    `);
    noErrors(r);
    assert.deepEqual(r.outputs[0], { isWindows: true, isLinux: false, platform: 'Win32NT', edition: 'Core', version: '7.6.9', module: `${modules.windows}\\${MODULE_NAME}` });
    assert.equal(r.outputs[1], `${work.windows}\\first.blob`);
    assert.deepEqual(r.outputs[2], { module: `${allPackage.windows}\\${MODULE_NAME}`, rids: ['darwin-arm64', 'darwin-x64', 'linux-arm64', 'linux-x64', 'win-x64'] });
    assert.equal(r.outputs[3], `${work.windows}\\second.blob`);
    const started = r.verbose.map((line) => /^Starting '([^']+)'/.exec(line)?.[1]).filter((p) => p !== undefined);
    assert.deepEqual(started, [`${modules.windows}\\${MODULE_NAME}\\bin\\win-x64\\${EXE}`, `${allPackage.windows}\\${MODULE_NAME}\\bin\\win-x64\\${EXE}`]);
    assertBytes(`${work.windows}\\first.blob`, v, 'first');
    assertBytes(`${work.windows}\\second.blob`, v, 'second');
    // The managed-identity sign-in answered the challenge: 401 without a token, then 200 with one.
    const rounds = vault.requests.filter((q) => q.vault === v && q.operation === 'backup').map((q) => [q.name, q.status, q.authorized]);
    assert.deepEqual(rounds, [['first', 401, false], ['first', 200, true], ['second', 401, false], ['second', 200, true]]);
  });

  it('writes a default file name in a C:\\ location (backslashes, lower-cased), a relative .\\x.blob, and into -OutputFile C:\\dir\\', async function () {
    const v = uniqueVaultName('win');
    seed(vault, v, ['MixedCase', 'Relative', 'IntoDir']);
    mkdirSync(join(work.linux, 'sub'));
    const r = await run(`
      Set-Location ${psQuote(work.windows)}
      Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'MixedCase'
      Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'Relative' -OutputFile .\\x.blob
      Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'IntoDir' -OutputFile ${psQuote(`${work.windows}\\sub\\`)}
    `);
    noErrors(r);
    assert.equal(r.outputs.length, 3);
    const [byDefault, relative, intoDir] = r.outputs.map(String) as [string, string, string];
    assert.match(byDefault, defaultName(work.windows, v, 'MixedCase'));
    assert.equal(relative, `${work.windows}\\x.blob`);
    assert.match(intoDir, defaultName(`${work.windows}\\sub`, v, 'IntoDir'));
    assertBytes(byDefault, v, 'MixedCase');
    assertBytes(relative, v, 'Relative');
    assertBytes(intoDir, v, 'IntoDir');
    assert.deepEqual(readdirSync(work.linux).sort(), [byDefault.slice(work.windows.length + 1), 'sub', 'x.blob'].sort());
  });

  it('backs up piped Az-typed objects (PSKeyVaultSecretIdentityItem, PSKeyVaultSecret), answering in input order', async function () {
    const v = uniqueVaultName('win');
    const names = ['p1', 'p2', 'p3', 'p4', 'p5'];
    seed(vault, v, names);
    const r = await run(`${DEFINE_AZ_TYPES}
      $items = @(${names.map((n, i) => `New-AzSecretItem -VaultName '${v}' -Name '${n}'${i % 2 ? ' -Full' : ''}`).join('; ')})
      [pscustomobject]@{ types = @($items | ForEach-Object { $_.GetType().FullName }) }
      $items | Backup-AzKeyVaultSecret -OutputFile ${psQuote(`${work.windows}\\`)}
    `);
    noErrors(r);
    const identity = 'Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultSecretIdentityItem';
    const full = 'Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultSecret';
    assert.deepEqual(r.outputs[0], { types: [identity, full, identity, full, identity] });
    const paths = r.outputs.slice(1).map(String);
    assert.equal(paths.length, names.length);
    names.forEach((n, i) => {
      assert.match(paths[i]!, defaultName(work.windows, v, n), `item ${i} answered in order`);
      assertBytes(paths[i]!, v, n);
    });
    assert.deepEqual([...backedUp(vault, v)].sort(), names);
  });

  it('-WhatIf says what it would do and sends no request: nothing in the vault\'s log, no file, no process', async function () {
    const v = uniqueVaultName('win');
    seed(vault, v, ['w1', 'w2']);
    const r = await run(`
      Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'w1' -OutputFile ${psQuote(`${work.windows}\\w1.blob`)} -WhatIf
      @([pscustomobject]@{ VaultName = '${v}'; Name = 'w2' }) | Backup-AzKeyVaultSecret -OutputFile ${psQuote(`${work.windows}\\`)} -WhatIf
      # Wine's conhost.exe is pwsh's console, its only child when no executable was started.
      [pscustomobject]@{ children = @(Get-Process | Where-Object { $null -ne $_.Parent -and $_.Parent.Id -eq $PID -and $_.ProcessName -ne 'conhost' } | ForEach-Object ProcessName) }
    `);
    noErrors(r);
    assert.deepEqual(r.outputs, [{ children: [] }]);
    assert.match(r.hostOutput, /What if: Performing the operation "Backup secret" on target "w1"\./);
    assert.match(r.hostOutput, /What if: Performing the operation "Backup secret" on target "w2"\./);
    assert.equal(backupRequests(vault, v), 0);
    assert.deepEqual(vault.requests.filter((q) => q.vault === v), [], 'no request at all for this vault');
    assert.deepEqual(readdirSync(work.linux), []);
  });

  it('-Force replaces an existing file with the exact bytes, twice in one pipeline and in a new one (the executable must not abort reading an empty console title)', async function () {
    const v = uniqueVaultName('win');
    seed(vault, v, ['f1', 'f2', 'f3']);
    const target = `${work.windows}\\existing.blob`;
    writeFileSync(drive.linuxPath(target), Buffer.from([1, 2, 3]));
    const r = await run(`
      Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'f1' -OutputFile ${psQuote(target)} -Force
      @([pscustomobject]@{ VaultName = '${v}'; Name = 'f2' }, [pscustomobject]@{ VaultName = '${v}'; Name = 'f3' }) | Backup-AzKeyVaultSecret -OutputFile ${psQuote(target)} -Force -ThrottleLimit 1
    `);
    noErrors(r);
    assert.deepEqual(r.outputs, [target, target, target]);
    assertBytes(target, v, 'f3');
    assert.deepEqual(backedUp(vault, v), ['f1', 'f2', 'f3']);
    assert.deepEqual(readdirSync(work.linux), ['existing.blob'], 'no temporary file left');
    assert.doesNotMatch(r.stderr, /Assertion failed/);
  });

  it('refuses an existing file without -Force (FileExists, ResourceExists) and keeps its bytes; SecretNotFound is ObjectNotFound, also under -ErrorAction Stop', async function () {
    const v = uniqueVaultName('win');
    seed(vault, v, ['kept']);
    const target = `${work.windows}\\exists.blob`;
    writeFileSync(drive.linuxPath(target), Buffer.from([9, 8, 7, 6]));
    const r = await run(`
      Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'kept' -OutputFile ${psQuote(target)}
      Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'kept' -OutputFile ${psQuote(target)} -Confirm:$false
      Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'missing' -OutputFile ${psQuote(`${work.windows}\\missing.blob`)}
      try { Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'missing' -OutputFile ${psQuote(`${work.windows}\\missing2.blob`)} -ErrorAction Stop; 'not reached' }
      catch { [pscustomobject]@{ caught = $_.FullyQualifiedErrorId; category = $_.CategoryInfo.Category.ToString() } }
    `);
    assert.deepEqual(r.sequence, ['error:FileExists,Backup-AzKeyVaultSecret', 'error:FileExists,Backup-AzKeyVaultSecret', 'error:SecretNotFound,Backup-AzKeyVaultSecret', 'output']);
    assert.deepEqual(r.errors.map((e) => e.category), ['ResourceExists', 'ResourceExists', 'ObjectNotFound']);
    assert.deepEqual(r.outputs, [{ caught: 'SecretNotFound,Backup-AzKeyVaultSecret', category: 'ObjectNotFound' }]);
    assert.deepEqual(readFileSync(drive.linuxPath(target)), Buffer.from([9, 8, 7, 6]), 'the refused file keeps its bytes');
    assert.deepEqual(readdirSync(work.linux), ['exists.blob'], 'no file for the missing secret');
    assert.deepEqual(backedUp(vault, v), [], 'a refused overwrite sends no request');
  });

  it('Select-Object -First 1 stops the pipeline: one path out, no partial or temporary file, and the session executable serves the next call', async function () {
    const v = uniqueVaultName('win');
    const names = ['s1', 's2', 's3', 's4', 's5', 's6', 's7', 's8'];
    seed(vault, v, [...names, 'n1']);
    const r = await run(`
      $items = @(${names.map((n) => `[pscustomobject]@{ VaultName = '${v}'; Name = '${n}' }`).join(', ')})
      $items | Backup-AzKeyVaultSecret -OutputFile ${psQuote(`${work.windows}\\`)} | Select-Object -First 1
      $before = @(Get-Process -Name az-keyvault-backup -ErrorAction Ignore | ForEach-Object Id)
      $files = @(Get-ChildItem -LiteralPath ${psQuote(work.windows)} -Force | ForEach-Object Name)
      $null = New-Item -ItemType Directory -Path ${psQuote(`${work.windows}\\next`)}
      $next = Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'n1' -OutputFile ${psQuote(`${work.windows}\\next\\`)} -ErrorAction Stop
      [pscustomobject]@{ running = $before.Count; same = (@(Get-Process -Name az-keyvault-backup -ErrorAction Ignore | ForEach-Object Id) -join ',') -eq ($before -join ','); files = $files; next = [string]$next }
    `);
    noErrors(r);
    assert.equal(r.outputs.length, 2);
    const first = String(r.outputs[0]);
    assert.match(first, defaultName(work.windows, v, 's1'));
    assertBytes(first, v, 's1');
    const state = r.outputs[1] as { running: number; same: boolean; files: string[]; next: string };
    assert.equal(state.running, 1, 'the session executable stays after the stop, and only it');
    assert.ok(state.same, 'the next call ran in the same executable');
    assert.match(state.next, defaultName(`${work.windows}\\next`, v, 'n1'));
    assertBytes(state.next, v, 'n1');
    assert.deepEqual([...state.files].sort(), readdirSync(work.linux).filter((f) => f !== 'next').sort(), 'Windows and Linux see the same files');
    for (const file of state.files) {
      const m = new RegExp(`^${v}-(s\\d)-\\d{9,}(\\.\\d+)?$`).exec(file);
      assert.ok(m, `${file} is a finished backup, not a temporary file`);
      assertBytes(`${work.windows}\\${file}`, v, m[1]!);
    }
    assert.deepEqual(pwsh.running(EXE), [], 'no az-keyvault-backup.exe left in the prefix');
  });

  it('the Windows PowerShell 5.1 launch path (ProcessStartInfo.Arguments from ConvertTo-WindowsArgument): a real backup, and awkward values arrive intact through the .exe\'s own command-line parsing', async function () {
    const v = uniqueVaultName('win');
    seed(vault, v, ['legacy']);
    const values = ['two words', 'quote"inside', 'trailing\\', 'spaced trailing\\ \\', 'back\\\\"slash', '"', '\\"', '', 'tab\there', 'a\\\\b\\c', 'ünïcødé €'];
    const r = await run(`
      $module = Get-Module ${MODULE_NAME}
      & $module { $script:UseArgumentString = $true }
      Backup-AzKeyVaultSecret -VaultName '${v}' -Name 'legacy' -OutputFile ${psQuote(`${work.windows}\\legacy.blob`)} -Verbose
      $exe = Join-Path $module.ModuleBase 'bin\\win-x64\\${EXE}'
      $values = @(${values.map((x) => psQuote(x)).join(', ')})
      foreach ($value in $values) {
        $line = & $module { param($v) (@('serve', '--vault-dns-suffix', $v) | ForEach-Object { ConvertTo-WindowsArgument -Value $_ }) -join ' ' } $value
        $psi = [System.Diagnostics.ProcessStartInfo]::new($exe)
        $psi.UseShellExecute = $false; $psi.CreateNoWindow = $true
        $psi.RedirectStandardInput = $true; $psi.RedirectStandardOutput = $true; $psi.RedirectStandardError = $true
        $psi.StandardErrorEncoding = [System.Text.UTF8Encoding]::new($false)
        $psi.Arguments = $line
        $p = [System.Diagnostics.Process]::Start($psi)
        $p.StandardInput.Close()
        $err = $p.StandardError.ReadToEndAsync(); $null = $p.StandardOutput.ReadToEnd(); $p.WaitForExit()
        [pscustomobject]@{ line = $line; exit = $p.ExitCode; stderr = $err.Result }
      }
    `);
    noErrors(r);
    assert.equal(r.outputs[0], `${work.windows}\\legacy.blob`);
    assertBytes(`${work.windows}\\legacy.blob`, v, 'legacy');
    const started = r.verbose.find((line) => line.startsWith('Starting '));
    assert.ok(started, 'the module started the executable');
    const echoes = r.outputs.slice(1) as { line: string; exit: number; stderr: string }[];
    assert.equal(echoes.length, values.length);
    values.forEach((value, i) => {
      const echo = echoes[i]!;
      assert.equal(echo.exit, 2, `${JSON.stringify(value)} is rejected as a DNS suffix: ${echo.stderr}`);
      const m = /The vault DNS suffix (".*") is not a DNS name/.exec(echo.stderr);
      assert.ok(m, `the executable names the value it received: ${echo.stderr}`);
      assert.equal(JSON.parse(m[1]!), value, `${JSON.stringify(value)} survives the command line ${echo.line}`);
    });
    assert.ok(existsSync(drive.linuxPath(`${work.windows}\\legacy.blob`)));
  });
});
