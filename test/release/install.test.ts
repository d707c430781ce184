import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedVault } from '../support/hooks.js';
import type { LocalVault } from '../support/local-vault/index.js';
import { psQuote, runPwsh, type PwshRun } from '../pwsh/run-pwsh.js';
import { MODULE_NAME, packageVersion, releaseDir, RIDS } from './support.js';

const FLAVOURS = [...RIDS, 'all'] as const;

interface Installed {
  flavour: string;
  manifestOk: boolean;
  manifestVersion: string;
  manifestError: string | null;
}
interface Session {
  package: string;
  autoloadSource: string;
  listed: string[];
  moduleBase: string;
  version: string;
  exeModeBefore: string;
  exeMode: string;
  about: string;
  nodeOnPath: number;
  written: string;
}

// Installs the packages the way users do: Expand-Archive of the downloaded zip into a folder on
// $env:PSModulePath, then the module by name. The session has only that folder and PowerShell's
// own modules on its module path, a PATH with nothing but dotnet (which the PowerShell installed
// here as a .NET tool needs to start; no Node or npm) and a fresh HOME (no user modules), so
// nothing from this repository can stand in for the package.
describe('release: installing a package as users do', function () {
  this.timeout(300_000);
  let work: string;
  let vault: LocalVault;
  let run: PwshRun;
  const vaultName = `inst${Date.now().toString(36)}`;

  before(async function () {
    vault = sharedVault();
    // One secret per session: each backup of a secret is new bytes, so each file is checked against its own.
    vault.setSecret(vaultName, 'from-linux-x64', 'from the linux-x64 package');
    vault.setSecret(vaultName, 'from-all', 'from the all-platform package');
    vault.setSecret(vaultName, 'from-gallery', 'from the package installed as from the Gallery');
    work = mkdtempSync(join(tmpdir(), 'azkvb-install-'));
    const bareBin = join(work, 'bin');
    const home = join(work, 'home');
    mkdirSync(bareBin);
    mkdirSync(home);
    const dotnet = (process.env['PATH'] ?? '').split(':').map((d) => join(d, 'dotnet')).find((p) => existsSync(p));
    if (dotnet) symlinkSync(realpathSync(dotnet), join(bareBin, 'dotnet'));
    const dir = releaseDir();
    const zips = FLAVOURS.map((f) => `[pscustomobject]@{ flavour = '${f}'; zip = ${psQuote(join(dir, `${MODULE_NAME}-${packageVersion()}-${f}.zip`))} }`);
    run = await runPwsh(
      `
      $ErrorActionPreference = 'Stop'
      $work = ${psQuote(work)}
      $system = Join-Path $PSHOME 'Modules'
      $packages = @(${zips.join(', ')})
      foreach ($p in $packages) {
          $modules = Join-Path $work (Join-Path $p.flavour 'Modules')
          Expand-Archive -LiteralPath $p.zip -DestinationPath $modules
          $manifest = Join-Path $modules 'Az.KeyVault.Backup/Az.KeyVault.Backup.psd1'
          $info = $null; $err = $null
          try { $info = Test-ModuleManifest -Path $manifest -ErrorAction Stop } catch { $err = $_.Exception.Message }
          [pscustomobject]@{ flavour = $p.flavour; manifestOk = ($null -ne $info); manifestVersion = [string]$info.Version; manifestError = $err }
      }
      # The Gallery's path: the all-platform folder published to a local PSResourceGet repository
      # as a nupkg, then saved from there into a module folder. NuGet packages carry no Unix modes.
      $repo = Join-Path $work 'gallery-repo'
      [void](New-Item -ItemType Directory $repo)
      Register-PSResourceRepository -Name AzKvbLocalGallery -Uri $repo -Trusted
      Publish-PSResource -Path (Join-Path $work 'all/Modules/Az.KeyVault.Backup') -Repository AzKvbLocalGallery
      $galleryModules = Join-Path $work 'gallery/Modules'
      [void](New-Item -ItemType Directory $galleryModules)
      Save-PSResource -Name Az.KeyVault.Backup -Repository AzKvbLocalGallery -Path $galleryModules -TrustRepository
      Unregister-PSResourceRepository -Name AzKvbLocalGallery

      foreach ($flavour in 'linux-x64', 'all', 'gallery') {
          $modules = Join-Path $work (Join-Path $flavour 'Modules')
          $env:PSModulePath = $modules + [System.IO.Path]::PathSeparator + $system
          $exeModeBefore = @(Get-ChildItem -LiteralPath $modules -Recurse -File -Filter 'az-keyvault-backup' | Where-Object { $_.Directory.Name -eq 'linux-x64' })[0].UnixMode
          # By name, before any import: discovery through the manifest's explicit export list.
          $cmd = Get-Command Backup-AzKeyVaultSecret
          $listed = @(Get-Module -ListAvailable Az.KeyVault.Backup | ForEach-Object { $_.ModuleBase })
          Import-Module Az.KeyVault.Backup
          $m = Get-Module Az.KeyVault.Backup
          $exe = Join-Path $m.ModuleBase 'bin/linux-x64/az-keyvault-backup'
          $out = Join-Path $work ($flavour + '.blob')
          $written = Backup-AzKeyVaultSecret -VaultName '${vaultName}' -Name ('from-' + $flavour) -OutputFile $out
          [pscustomobject]@{
              package = $flavour
              autoloadSource = $cmd.Source
              listed = $listed
              moduleBase = $m.ModuleBase
              version = $m.Version.ToString()
              exeModeBefore = $exeModeBefore
              exeMode = (Get-Item $exe).UnixMode
              about = (Get-Help about_Az.KeyVault.Backup | Out-String -Width 120)
              nodeOnPath = @(Get-Command node, npm, npx -CommandType Application -ErrorAction SilentlyContinue).Count
              written = $written
          }
          Remove-Module Az.KeyVault.Backup
      }
      `,
      { module: null, timeoutMs: 280_000, env: { ...vault.env(), PATH: bareBin, HOME: home } },
    );
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  const sessions = (): Session[] => run.outputs.filter((o): o is Session => typeof o === 'object' && o !== null && 'package' in o);

  it('every package passes Test-ModuleManifest with the release version', function () {
    assert.deepEqual(run.errors, []);
    const installed = run.outputs.filter((o): o is Installed => typeof o === 'object' && o !== null && 'manifestOk' in o);
    assert.deepEqual(
      installed.map((i) => [i.flavour, i.manifestOk, i.manifestVersion, i.manifestError]),
      FLAVOURS.map((f) => [f, true, packageVersion(), null]),
    );
  });

  for (const flavour of ['linux-x64', 'all']) {
    it(`${flavour} zip: extracted into a module path, it is found, imported and run by name with no Node or npm on PATH`, function () {
      assert.deepEqual(run.errors, []);
      const s = sessions().find((x) => x.package === flavour);
      assert.ok(s, `the ${flavour} session ran`);
      const base = join(work, flavour, 'Modules', MODULE_NAME);
      assert.equal(s.autoloadSource, MODULE_NAME);
      assert.deepEqual(s.listed, [base], 'only the extracted package is on the module path');
      assert.equal(s.moduleBase, base);
      assert.equal(s.version, packageVersion());
      assert.equal(s.exeModeBefore, '-rwxr-xr-x', 'Expand-Archive kept the execute bit the zip records');
      assert.equal(s.exeMode, '-rwxr-xr-x');
      assert.equal(s.nodeOnPath, 0);
      assert.equal(s.written, join(work, `${flavour}.blob`));
      const expected = vault.lastBackupBlob(vaultName, `from-${flavour}`);
      assert.ok(expected && readFileSync(s.written).equals(expected), 'the bytes the vault handed out');
    });
  }

  it('all-platform folder published as a nupkg and saved from a PSResourceGet repository (the Gallery path): imports by name and runs, the lost execute bit restored', function () {
    assert.deepEqual(run.errors, []);
    const s = sessions().find((x) => x.package === 'gallery');
    assert.ok(s, 'the gallery session ran');
    const base = join(work, 'gallery', 'Modules', MODULE_NAME, packageVersion());
    assert.equal(s.autoloadSource, MODULE_NAME);
    assert.deepEqual(s.listed, [base]);
    assert.equal(s.moduleBase, base);
    assert.equal(s.exeModeBefore, '-rw-r--r--', 'a nupkg install leaves the executable without its x bit');
    assert.equal(s.exeMode, '-rwxr-xr-x', 'the module gave it back on first use');
    const expected = vault.lastBackupBlob(vaultName, 'from-gallery');
    assert.ok(expected && readFileSync(s.written).equals(expected), 'the bytes the vault handed out');
  });

  it('Get-Help about_Az.KeyVault.Backup shows the packaged about topic', function () {
    const s = sessions().find((x) => x.package === 'linux-x64');
    assert.ok(s);
    const topic = readFileSync(join(releaseDir(), 'linux-x64', MODULE_NAME, 'en-US', 'about_Az.KeyVault.Backup.help.txt'), 'utf8');
    // Its headings (lines in capitals, at most two spaces in), each shown: the whole topic, not a stub.
    const headings = topic.split(/\r?\n/).filter((l) => /^ {0,2}[A-Z][A-Z .-]+$/.test(l)).map((l) => l.trim());
    assert.ok(headings.includes('PLATFORMS') && headings.includes('TROUBLESHOOTING NOTE') && headings.length >= 8, headings.join(', '));
    for (const heading of headings) assert.ok(s.about.includes(heading), `about topic shows ${heading}`);
    const last = topic.trimEnd().split(/\r?\n/).at(-1)!.trim();
    assert.ok(s.about.includes(last), 'down to its last line');
    assert.match(s.about, /about_Az\.KeyVault\.Backup/);
  });
});
