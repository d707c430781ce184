import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sharedVault } from '../support/hooks.js';
import { exeName, exePath, runtimeId } from '../support/paths.js';
import { copyModule, psQuote, runPwsh, tempDir } from './run-pwsh.js';
import { assertBackupFile, seed, uniqueVaultName } from './vault-fixtures.js';

// The pure choices (platform and architecture to runtime id, the bin/<rid>/ path, this machine's
// runtime id) are tested in PowerShell: test/module/private/executable.Tests.ps1. These start
// real processes.
describe("PowerShell module: choosing this computer's executable", function () {
  it("a package for another platform is one ExecutableNotFound naming this platform's package", async function () {
    // The module as the linux-arm64 zip lays it out, on this (x64) machine.
    const other = runtimeId() === 'linux-arm64' ? 'linux-x64' : 'linux-arm64';
    const module = copyModule({ rid: other, name: exeName(other), content: '#!/bin/sh\nexit 3\n', mode: 0o755 });
    try {
      const r = await runPwsh(
        `try { Backup-AzKeyVaultSecret -VaultName nowhere -Name a -OutputFile ([System.IO.Path]::GetTempPath()); 'not reached' }
         catch { [pscustomobject]@{ id = $_.FullyQualifiedErrorId; category = $_.CategoryInfo.Category.ToString(); target = [string]$_.TargetObject; message = $_.Exception.Message } }`,
        { module: module.manifest },
      );
      assert.deepEqual(r.errors, []);
      const caught = r.outputs[0] as { id: string; category: string; target: string; message: string };
      assert.equal(caught.id, 'ExecutableNotFound,Backup-AzKeyVaultSecret');
      assert.equal(caught.category, 'ObjectNotFound');
      assert.equal(caught.target, join(module.dir, 'bin', runtimeId(), exeName(runtimeId())));
      assert.ok(caught.message.includes(`the executables for ${other} only`), caught.message);
      assert.ok(caught.message.includes(`-${runtimeId()}.zip`), caught.message);
    } finally {
      rmSync(module.dir, { recursive: true, force: true });
    }
  });

  it('quotes arguments for Windows PowerShell 5.1 so a Windows-rule parser gives back each one exactly', async function () {
    if (process.platform === 'win32') this.skip();
    // ProcessStartInfo.Arguments is split by .NET with the Microsoft C runtime's rules on every OS,
    // so starting sh with the quoted string and echoing argv checks the quoting without Windows.
    const values = ['plain', 'two words', '', 'say "hi"', 'C:\\dir\\', 'C:\\dir with space\\', 'a\\\\"b', '\\\\server\\share', 'tab\there', '"', '\\'];
    const r = await runPwsh(`
      $values = ConvertFrom-Json ${psQuote(JSON.stringify(values))}
      & (Get-Module Az.KeyVault.Backup) {
        param($values)
        $argv = @('-c', 'for a; do printf "[%s]" "$a"; done', 'sh') + $values
        $psi = [System.Diagnostics.ProcessStartInfo]::new('/bin/sh')
        $psi.Arguments = (@($argv | ForEach-Object { ConvertTo-WindowsArgument -Value $_ }) -join ' ')
        $psi.RedirectStandardOutput = $true
        $psi.UseShellExecute = $false
        $p = [System.Diagnostics.Process]::Start($psi)
        $out = $p.StandardOutput.ReadToEnd()
        $p.WaitForExit()
        $out
      } $values
    `);
    assert.deepEqual(r.errors, []);
    assert.equal(r.outputs[0], values.map((v) => `[${v}]`).join(''));
  });

  it('a platform nothing is shipped for is one PlatformNotSupported, before any executable is looked for', async function () {
    const r = await runPwsh(`
      & (Get-Module Az.KeyVault.Backup) { function script:Get-HostPlatform { [pscustomobject]@{ Platform = 'FreeBSD'; Architecture = 'X64' } } }
      try { 'a', 'b' | ForEach-Object { [pscustomobject]@{ VaultName = 'nowhere'; Name = $_ } } | Backup-AzKeyVaultSecret -OutputFile ([System.IO.Path]::GetTempPath()); 'not reached' }
      catch { [pscustomobject]@{ id = $_.FullyQualifiedErrorId; category = $_.CategoryInfo.Category.ToString(); target = [string]$_.TargetObject } }
    `);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.outputs, [{ id: 'PlatformNotSupported,Backup-AzKeyVaultSecret', category: 'NotImplemented', target: 'FreeBSD/X64' }]);
  });

  it('on macOS, an executable killed at start (as an unsigned one is on Apple Silicon) is ExecutableFailed saying how to sign it', async function () {
    if (process.platform === 'win32') this.skip();
    // The darwin-arm64 package, on a host that says it is macOS on arm64; its "executable" is
    // killed with SIGKILL before the handshake, which is what macOS does to an unsigned binary.
    const module = copyModule({ rid: 'darwin-arm64', name: exeName('darwin-arm64'), content: '#!/bin/sh\nkill -9 $$\n', mode: 0o755 });
    try {
      const r = await runPwsh(
        `& (Get-Module Az.KeyVault.Backup) { function script:Get-HostPlatform { [pscustomobject]@{ Platform = 'OSX'; Architecture = 'Arm64' } } }
         try { Backup-AzKeyVaultSecret -VaultName nowhere -Name a -OutputFile ([System.IO.Path]::GetTempPath()); 'not reached' }
         catch { [pscustomobject]@{ id = $_.FullyQualifiedErrorId; category = $_.CategoryInfo.Category.ToString(); message = $_.Exception.Message } }`,
        { module: module.manifest },
      );
      assert.deepEqual(r.errors, []);
      const caught = r.outputs[0] as { id: string; category: string; message: string };
      assert.equal(caught.id, 'ExecutableFailed,Backup-AzKeyVaultSecret');
      assert.equal(caught.category, 'ResourceUnavailable');
      const exe = join(module.dir, 'bin', 'darwin-arm64', exeName('darwin-arm64'));
      assert.ok(caught.message.includes(`codesign --sign - '${exe}'`), caught.message);
      assert.ok(caught.message.includes('com.apple.quarantine'), caught.message);
    } finally {
      rmSync(module.dir, { recursive: true, force: true });
    }
  });

  it('an executable that lost its execute bit (as a Gallery install leaves it) gets it back and runs', async function () {
    if (process.platform === 'win32') this.skip();
    const vault = sharedVault();
    const v = uniqueVaultName('xb');
    seed(vault, v, ['plain']);
    const rid = runtimeId();
    const module = copyModule();
    const out = tempDir('azkvb-xbit-');
    try {
      const target = join(module.dir, 'bin', rid, exeName(rid));
      mkdirSync(join(module.dir, 'bin', rid), { recursive: true });
      copyFileSync(exePath(), target);
      chmodSync(target, 0o640);
      const r = await runPwsh(`Backup-AzKeyVaultSecret -VaultName '${v}' -Name plain -OutputFile ${psQuote(join(out, 'plain.blob'))}`, {
        module: module.manifest,
        env: vault.env(),
      });
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.outputs, [join(out, 'plain.blob')]);
      assertBackupFile(vault, v, 'plain', join(out, 'plain.blob'));
      assert.equal(statSync(target).mode & 0o777, 0o750, 'execute bits restored where read bits were, and nowhere else');
    } finally {
      rmSync(module.dir, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    }
  });
});
