import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sharedVault } from '../support/hooks.js';
import { exeName, exePath, runtimeId } from '../support/paths.js';
import { copyModule, psQuote, runPwsh, tempDir, type PwshRun } from './run-pwsh.js';
import { assertBackupFile, seed, uniqueVaultName } from './vault-fixtures.js';

// Every platform and architecture name the module can meet: RuntimeInformation's enum names on
// PowerShell 7, PROCESSOR_ARCHITECTURE's values on Windows PowerShell 5.1, and a few spellings.
const PAIRS: [platform: string, architecture: string, rid: string | null][] = [
  ['Windows', 'X64', 'win-x64'],
  ['Windows', 'AMD64', 'win-x64'],
  ['Windows', 'Arm64', 'win-x64'], // Windows on Arm: the x64 build under emulation
  ['Windows', 'ARM64', 'win-x64'],
  ['Windows', 'X86', null],
  ['Windows', 'Arm', null],
  ['Linux', 'X64', 'linux-x64'],
  ['Linux', 'Arm64', 'linux-arm64'],
  ['Linux', 'Arm', null],
  ['Linux', 'X86', null],
  ['Linux', 'S390x', null],
  ['Linux', 'LoongArch64', null],
  ['Linux', 'RiscV64', null],
  ['OSX', 'X64', 'darwin-x64'],
  ['OSX', 'Arm64', 'darwin-arm64'],
  ['FreeBSD', 'X64', null],
  ['Unknown', 'X64', null],
];

// What the module sees on each host, through ConvertTo-HostPlatform's inputs: the edition, the
// platform PowerShell 7 detects, RuntimeInformation.OSArchitecture (absent on .NET Framework before
// 4.7.1) and the Windows environment's PROCESSOR_ARCHITECTURE / PROCESSOR_ARCHITEW6432.
const HOSTS: { label: string; edition: string; core: string; osArch: string; pa: string; w6432: string; rid: string | null }[] = [
  { label: '5.1, .NET 4.8, 64-bit', edition: 'Desktop', core: '', osArch: 'X64', pa: 'AMD64', w6432: '', rid: 'win-x64' },
  { label: '5.1, .NET 4.6, 64-bit', edition: 'Desktop', core: '', osArch: '', pa: 'AMD64', w6432: '', rid: 'win-x64' },
  { label: '5.1, .NET 4.6, 32-bit PowerShell on 64-bit Windows', edition: 'Desktop', core: '', osArch: '', pa: 'x86', w6432: 'AMD64', rid: 'win-x64' },
  { label: '5.1, .NET 4.6, Windows on Arm', edition: 'Desktop', core: '', osArch: '', pa: 'ARM64', w6432: '', rid: 'win-x64' },
  { label: '5.1, .NET 4.6, 32-bit Windows', edition: 'Desktop', core: '', osArch: '', pa: 'x86', w6432: '', rid: null },
  { label: '7.x on Windows x64', edition: 'Core', core: 'Windows', osArch: 'X64', pa: 'AMD64', w6432: '', rid: 'win-x64' },
  { label: '7.x on Linux arm64', edition: 'Core', core: 'Linux', osArch: 'Arm64', pa: '', w6432: '', rid: 'linux-arm64' },
  { label: '7.x on macOS arm64', edition: 'Core', core: 'OSX', osArch: 'Arm64', pa: '', w6432: '', rid: 'darwin-arm64' },
  { label: '7.x on an OS it does not know', edition: 'Core', core: '', osArch: 'X64', pa: '', w6432: '', rid: null },
];


describe("PowerShell module: choosing this computer's executable", function () {
  let run: PwshRun;

  before(async function () {
    const calls = PAIRS.map(([p, a]) => `[pscustomobject]@{ platform = '${p}'; architecture = '${a}'; rid = (Get-RuntimeIdentifier -Platform '${p}' -Architecture '${a}'); path = $null }`);
    run = await runPwsh(`
      & (Get-Module Az.KeyVault.Backup) {
        ${calls.join('\n        ')}
        foreach ($rid in 'win-x64', 'linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64') {
          [pscustomobject]@{ platform = 'path'; architecture = $rid; rid = $rid; path = (Get-ExecutablePath -RuntimeIdentifier $rid -ModuleBase '/m') }
        }
        ${HOSTS.map((h) => `$p = ConvertTo-HostPlatform -Edition '${h.edition}' -CorePlatform '${h.core}' -OSArchitecture '${h.osArch}' -ProcessorArchitecture '${h.pa}' -ProcessorArchiteW6432 '${h.w6432}'; [pscustomobject]@{ platform = 'seen'; architecture = '${h.label}'; rid = (Get-RuntimeIdentifier -Platform $p.Platform -Architecture $p.Architecture); path = $null }`).join('\n        ')}
        $h = Get-HostPlatform
        [pscustomobject]@{ platform = 'host'; architecture = $h.Architecture; rid = (Get-RuntimeIdentifier -Platform $h.Platform -Architecture $h.Architecture); path = $h.Platform }
      }
    `);
    assert.deepEqual(run.errors, []);
  });

  function row(platform: string, architecture: string): { rid: string | null; path: string | null } {
    const found = (run.outputs as { platform: string; architecture: string; rid: string | null; path: string | null }[]).find(
      (o) => o.platform === platform && o.architecture === architecture,
    );
    assert.ok(found, `${platform}/${architecture} was asked`);
    return found;
  }

  it('maps every OS and architecture pair to its executable, or to none where nothing is shipped', function () {
    const got = PAIRS.map(([p, a]) => [p, a, row(p, a).rid]);
    assert.deepEqual(got, PAIRS);
  });

  it('sees Windows PowerShell 5.1 and PowerShell 7 hosts as the right platform, the OS architecture winning over the process one', function () {
    assert.deepEqual(
      HOSTS.map((h) => [h.label, row('seen', h.label).rid]),
      HOSTS.map((h) => [h.label, h.rid]),
    );
  });

  it('looks in bin/<rid>/ under the module folder, with .exe on Windows only', function () {
    for (const rid of ['win-x64', 'linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64']) {
      assert.equal(row('path', rid).path, join('/m', 'bin', rid, exeName(rid)));
    }
  });

  it('detects this machine as the runtime id the build produced for it', function () {
    const host = (run.outputs as { platform: string; rid: string; path: string }[]).find((o) => o.platform === 'host');
    assert.ok(host);
    assert.equal(host.rid, runtimeId());
    assert.equal(host.path, { linux: 'Linux', darwin: 'OSX', win32: 'Windows' }[process.platform as string]);
  });

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
