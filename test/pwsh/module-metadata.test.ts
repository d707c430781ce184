import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageVersion, repoRoot } from '../support/paths.js';
import { moduleManifestPath, psQuote, runPwsh, type PwshRun } from './run-pwsh.js';

interface ParameterInfo {
  name: string;
  position: number;
  mandatory: boolean;
  byValue: boolean;
  byName: boolean;
  aliases: string[];
  type: string;
}
interface SetInfo {
  name: string;
  isDefault: boolean;
  parameters: ParameterInfo[];
}
interface Metadata {
  defaultSet: string;
  supportsShouldProcess: boolean;
  confirmImpactDeclared: boolean;
  outputType: string[];
  sets: SetInfo[];
  notNullOrEmpty: string[];
  throttleRange: number[];
  throttleDefault: string;
  declaresWhatIfOrConfirm: boolean;
  manifest: Record<string, unknown>;
  manifestData: Record<string, unknown>;
  help: { synopsis: string; examples: string[]; parameters: { name: string; described: boolean }[]; notes: string };
}

const NAMED = -2147483648;
const PUBLIC_SOURCE = join(repoRoot(), 'src', 'module', 'public', 'Backup-AzKeyVaultSecret.ps1');

// One pwsh start collects everything static about the module: command metadata, manifest and help.
// (What Windows PowerShell 5.1 cannot run is checked in windows-powershell-51.test.ts.)
const SCRIPT = `
$cmd = Get-Command Backup-AzKeyVaultSecret
$common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
$binding = @($cmd.ScriptBlock.Attributes | Where-Object { $_ -is [System.Management.Automation.CmdletBindingAttribute] })[0]
$range = @($cmd.Parameters['ThrottleLimit'].Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateRangeAttribute] })[0]

$tokens = $null; $parseErrors = $null
$ast = [System.Management.Automation.Language.Parser]::ParseFile(${psQuote(PUBLIC_SOURCE)}, [ref]$tokens, [ref]$parseErrors)
$fnAst = $ast.Find({ param($n) $n -is [System.Management.Automation.Language.FunctionDefinitionAst] -and $n.Name -eq 'Backup-AzKeyVaultSecret' }, $true)
$bindingAst = @($fnAst.Body.ParamBlock.Attributes | Where-Object { $_.TypeName.Name -eq 'CmdletBinding' })[0]

$manifest = Test-ModuleManifest -Path ${psQuote(moduleManifestPath())} -ErrorAction Stop
$data = Import-PowerShellDataFile -Path ${psQuote(moduleManifestPath())}
$help = Get-Help Backup-AzKeyVaultSecret -Full

[pscustomobject]@{
    defaultSet = $cmd.DefaultParameterSet
    supportsShouldProcess = $binding.SupportsShouldProcess
    confirmImpactDeclared = @($bindingAst.NamedArguments | Where-Object { $_.ArgumentName -eq 'ConfirmImpact' }).Count -gt 0
    outputType = @($cmd.OutputType | ForEach-Object { $_.Type.FullName })
    sets = @($cmd.ParameterSets | ForEach-Object {
        [pscustomobject]@{ name = $_.Name; isDefault = $_.IsDefault; parameters = @($_.Parameters | Where-Object { $common -notcontains $_.Name } | ForEach-Object {
            [pscustomobject]@{ name = $_.Name; position = $_.Position; mandatory = $_.IsMandatory; byValue = $_.ValueFromPipeline; byName = $_.ValueFromPipelineByPropertyName; aliases = @($_.Aliases); type = $_.ParameterType.FullName }
        }) }
    })
    notNullOrEmpty = @($cmd.Parameters.Values | Where-Object { @($_.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateNotNullOrEmptyAttribute] }).Count -gt 0 } | ForEach-Object { $_.Name } | Sort-Object)
    throttleRange = @([int]$range.MinRange, [int]$range.MaxRange)
    throttleDefault = [string]@($fnAst.Body.ParamBlock.Parameters | Where-Object { $_.Name.VariablePath.UserPath -eq 'ThrottleLimit' })[0].DefaultValue
    declaresWhatIfOrConfirm = @($fnAst.Body.ParamBlock.Parameters | Where-Object { @('WhatIf', 'Confirm') -contains $_.Name.VariablePath.UserPath }).Count -gt 0
    manifest = [pscustomobject]@{
        version = $manifest.Version.ToString(); guid = $manifest.Guid.ToString(); rootModule = $manifest.RootModule
        functions = @($manifest.ExportedFunctions.Keys); cmdlets = @($manifest.ExportedCmdlets.Keys); aliases = @($manifest.ExportedAliases.Keys)
        editions = @($manifest.CompatiblePSEditions); psVersion = $manifest.PowerShellVersion.ToString(); tags = @($manifest.Tags)
        projectUri = [string]$manifest.ProjectUri; licenseUri = [string]$manifest.LicenseUri; releaseNotes = [string]$manifest.ReleaseNotes
    }
    manifestData = [pscustomobject]@{ functions = @($data.FunctionsToExport); cmdlets = @($data.CmdletsToExport); variables = @($data.VariablesToExport); aliases = @($data.AliasesToExport) }
    help = [pscustomobject]@{
        synopsis = [string]$help.Synopsis
        examples = @($help.examples.example | ForEach-Object { [string]$_.code })
        parameters = @($help.parameters.parameter | ForEach-Object { [pscustomobject]@{ name = $_.name; described = ([string]($_.description | Out-String)).Trim().Length -gt 0 } })
        notes = [string]($help.alertSet | Out-String)
    }
}
`;

// The Az surface (behaviour.md's table) plus our one documented extra, -ThrottleLimit.
const EXPECTED: Record<string, { position: number; mandatory: boolean; byValue: boolean; aliases: string[] }> = {
  VaultName: { position: 0, mandatory: true, byValue: false, aliases: [] },
  Name: { position: 1, mandatory: true, byValue: false, aliases: ['SecretName'] },
  InputObject: { position: 0, mandatory: true, byValue: true, aliases: ['Secret'] },
  Id: { position: 0, mandatory: true, byValue: false, aliases: ['SecretId'] },
  OutputFile: { position: 2, mandatory: false, byValue: false, aliases: [] },
  Force: { position: NAMED, mandatory: false, byValue: false, aliases: [] },
  DefaultProfile: { position: NAMED, mandatory: false, byValue: false, aliases: ['AzContext', 'AzureRmContext', 'AzureCredential'] },
  ThrottleLimit: { position: NAMED, mandatory: false, byValue: false, aliases: [] },
};
const SETS: Record<string, string[]> = {
  BySecretName: ['VaultName', 'Name', 'OutputFile', 'Force', 'DefaultProfile', 'ThrottleLimit'],
  BySecret: ['InputObject', 'OutputFile', 'Force', 'DefaultProfile', 'ThrottleLimit'],
  BySecretUri: ['Id', 'OutputFile', 'Force', 'DefaultProfile', 'ThrottleLimit'],
};

describe('PowerShell module: metadata, manifest and help', function () {
  let run: PwshRun;
  let meta: Metadata;

  before(async function () {
    run = await runPwsh(SCRIPT);
    assert.deepEqual(run.errors, [], 'the metadata script ran without errors');
    meta = run.outputs[0] as Metadata;
  });

  it('has exactly the three Az parameter sets, BySecretName by default', function () {
    assert.equal(meta.defaultSet, 'BySecretName');
    assert.deepEqual(meta.sets.map((s) => s.name).sort(), Object.keys(SETS).sort());
    assert.deepEqual(meta.sets.filter((s) => s.isDefault).map((s) => s.name), ['BySecretName']);
  });

  it('gives every parameter its Az position, mandatory flag, pipeline binding and aliases in every set', function () {
    for (const set of meta.sets) {
      assert.deepEqual(set.parameters.map((p) => p.name).sort(), [...(SETS[set.name] ?? [])].sort(), `parameters of ${set.name}`);
      for (const parameter of set.parameters) {
        const expected = EXPECTED[parameter.name];
        assert.ok(expected, parameter.name);
        assert.equal(parameter.position, expected.position, `${set.name}/${parameter.name} position`);
        assert.equal(parameter.mandatory, expected.mandatory, `${set.name}/${parameter.name} mandatory`);
        assert.equal(parameter.byValue, expected.byValue, `${set.name}/${parameter.name} by value`);
        assert.equal(parameter.byName, false, `${set.name}/${parameter.name} by property name`);
        assert.deepEqual([...parameter.aliases].sort(), [...expected.aliases].sort(), `${set.name}/${parameter.name} aliases`);
      }
    }
    const types = Object.fromEntries(meta.sets.flatMap((s) => s.parameters).map((p) => [p.name, p.type]));
    assert.equal(types['InputObject'], 'System.Object', 'binds Az objects without Az loaded');
    for (const name of ['VaultName', 'Name', 'Id', 'OutputFile']) assert.equal(types[name], 'System.String', name);
    assert.equal(types['Force'], 'System.Management.Automation.SwitchParameter');
    assert.equal(types['ThrottleLimit'], 'System.Int32');
  });

  it('validates not-null-or-empty on every Az parameter but Force, and ThrottleLimit to 1..64 with default 16', function () {
    assert.deepEqual(meta.notNullOrEmpty, ['DefaultProfile', 'Id', 'InputObject', 'Name', 'OutputFile', 'VaultName']);
    assert.deepEqual(meta.throttleRange, [1, 64]);
    assert.equal(meta.throttleDefault, '16');
  });

  it('supports ShouldProcess without declaring ConfirmImpact, WhatIf or Confirm, and outputs strings', function () {
    assert.equal(meta.supportsShouldProcess, true);
    assert.equal(meta.confirmImpactDeclared, false);
    assert.equal(meta.declaresWhatIfOrConfirm, false);
    assert.deepEqual(meta.outputType, ['System.String']);
  });

  it('passes Test-ModuleManifest with the required fields', function () {
    const m = meta.manifest;
    assert.equal(m['rootModule'], 'Az.KeyVault.Backup.psm1');
    assert.match(String(m['guid']), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.notEqual(m['guid'], '00000000-0000-0000-0000-000000000000');
    assert.deepEqual(m['functions'], ['Backup-AzKeyVaultSecret']);
    assert.deepEqual(m['cmdlets'], []);
    assert.deepEqual(m['aliases'], []);
    assert.deepEqual(m['editions'], ['Desktop', 'Core']);
    assert.equal(m['psVersion'], '5.1');
    for (const tag of ['PSEdition_Desktop', 'PSEdition_Core', 'Windows', 'Linux', 'MacOS', 'Azure', 'KeyVault']) {
      assert.ok((m['tags'] as string[]).includes(tag), tag);
    }
    assert.match(String(m['projectUri']), /^https:\/\//);
    assert.match(String(m['licenseUri']), /^https:\/\//);
    assert.ok(String(m['releaseNotes']).length > 0);
    // Explicit lists, never wildcards, so PowerShell can discover the command without loading the module.
    assert.deepEqual(meta.manifestData, { functions: ['Backup-AzKeyVaultSecret'], cmdlets: [], variables: [], aliases: [] });
  });

  it("keeps ModuleVersion on one line equal to package.json's version", function () {
    const version = packageVersion();
    const psd1 = readFileSync(moduleManifestPath(), 'utf8');
    const lines = psd1.split(/\r?\n/).filter((l) => /ModuleVersion\s*=/.test(l));
    assert.deepEqual(lines.map((l) => l.trim()), [`ModuleVersion = '${version}'`]);
    assert.equal(meta.manifest['version'], version);
  });

  it('has comment-based help: synopsis, every parameter described, the three Az examples plus a whole-vault and a foreach one, notes', function () {
    assert.ok(meta.help.synopsis.length > 0);
    assert.equal(meta.help.examples.length, 5);
    assert.ok(meta.help.examples.some((code) => /^PS C:\\> foreach \(/.test(code) || /foreach \(\$name in/.test(code)), 'a foreach loop of single calls');
    assert.ok(meta.help.examples.some((code) => /Get-AzKeyVaultSecret -VaultName \S+ \| Backup-AzKeyVaultSecret -OutputFile \S+ -Force/.test(code)));
    const documented = meta.help.parameters.filter((p) => p.described).map((p) => p.name).sort();
    for (const name of ['DefaultProfile', 'Force', 'Id', 'InputObject', 'Name', 'OutputFile', 'ThrottleLimit', 'VaultName', 'WhatIf', 'Confirm']) {
      assert.ok(documented.includes(name), `help describes -${name}`);
    }
    assert.ok(meta.help.notes.trim().length > 0);
  });
});
