import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageVersion, repoRoot } from '../support/paths.js';
import { CMDLETS, CMDLET_NAMES, INPUT_FILE_EXTRA } from './az-surface.js';
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
interface CommandInfo {
  name: string;
  defaultSet: string;
  supportsShouldProcess: boolean;
  confirmImpactDeclared: boolean;
  outputType: string[];
  sets: SetInfo[];
  notNullOrEmpty: string[];
  throttleRange: number[];
  throttleDefault: string;
  declaresWhatIfOrConfirm: boolean;
  help: { synopsis: string; examples: string[]; parameters: { name: string; described: boolean }[]; notes: string };
}
interface Metadata {
  commands: CommandInfo[];
  manifest: Record<string, unknown>;
  manifestData: Record<string, unknown>;
  exported: string[];
}

const PUBLIC_DIR = join(repoRoot(), 'src', 'module', 'public');

// One pwsh start collects everything static about the module: each command's metadata and help,
// and the manifest. (What Windows PowerShell 5.1 cannot run is checked in windows-powershell-51.test.ts.)
const SCRIPT = `
$common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
# Each command is an output of its own: nested deeper, its aliases would pass ConvertTo-Json's depth.
foreach ($name in @(${CMDLET_NAMES.map(psQuote).join(', ')})) {
    $cmd = Get-Command $name
    $binding = @($cmd.ScriptBlock.Attributes | Where-Object { $_ -is [System.Management.Automation.CmdletBindingAttribute] })[0]
    $range = @($cmd.Parameters['ThrottleLimit'].Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateRangeAttribute] })[0]
    $tokens = $null; $parseErrors = $null
    $ast = [System.Management.Automation.Language.Parser]::ParseFile([System.IO.Path]::Combine(${psQuote(PUBLIC_DIR)}, $name + '.ps1'), [ref]$tokens, [ref]$parseErrors)
    $fnAst = $ast.Find({ param($n) $n -is [System.Management.Automation.Language.FunctionDefinitionAst] -and $n.Name -eq $name }, $true)
    $bindingAst = @($fnAst.Body.ParamBlock.Attributes | Where-Object { $_.TypeName.Name -eq 'CmdletBinding' })[0]
    $help = Get-Help $name -Full
    [pscustomobject]@{
        name = $name
        defaultSet = $cmd.DefaultParameterSet
        supportsShouldProcess = $binding.SupportsShouldProcess
        confirmImpactDeclared = @($bindingAst.NamedArguments | Where-Object { $_.ArgumentName -eq 'ConfirmImpact' }).Count -gt 0
        outputType = @($cmd.OutputType | ForEach-Object { $_.Name })
        sets = @($cmd.ParameterSets | ForEach-Object {
            [pscustomobject]@{ name = $_.Name; isDefault = $_.IsDefault; parameters = @($_.Parameters | Where-Object { $common -notcontains $_.Name } | ForEach-Object {
                [pscustomobject]@{ name = $_.Name; position = $_.Position; mandatory = $_.IsMandatory; byValue = $_.ValueFromPipeline; byName = $_.ValueFromPipelineByPropertyName; aliases = @($_.Aliases); type = $_.ParameterType.FullName }
            }) }
        })
        notNullOrEmpty = @($cmd.Parameters.Values | Where-Object { @($_.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateNotNullOrEmptyAttribute] }).Count -gt 0 } | ForEach-Object { $_.Name } | Sort-Object)
        throttleRange = @([int]$range.MinRange, [int]$range.MaxRange)
        throttleDefault = [string]@($fnAst.Body.ParamBlock.Parameters | Where-Object { $_.Name.VariablePath.UserPath -eq 'ThrottleLimit' })[0].DefaultValue
        declaresWhatIfOrConfirm = @($fnAst.Body.ParamBlock.Parameters | Where-Object { @('WhatIf', 'Confirm') -contains $_.Name.VariablePath.UserPath }).Count -gt 0
        help = [pscustomobject]@{
            synopsis = [string]$help.Synopsis
            examples = @($help.examples.example | ForEach-Object { [string]$_.code })
            parameters = @($help.parameters.parameter | ForEach-Object { [pscustomobject]@{ name = $_.name; described = ([string]($_.description | Out-String)).Trim().Length -gt 0 } })
            notes = [string]($help.alertSet | Out-String)
        }
    }
}

$manifest = Test-ModuleManifest -Path ${psQuote(moduleManifestPath())} -ErrorAction Stop
$data = Import-PowerShellDataFile -Path ${psQuote(moduleManifestPath())}

[pscustomobject]@{
    manifest = [pscustomobject]@{
        version = $manifest.Version.ToString(); guid = $manifest.Guid.ToString(); rootModule = $manifest.RootModule
        functions = @($manifest.ExportedFunctions.Keys); cmdlets = @($manifest.ExportedCmdlets.Keys); aliases = @($manifest.ExportedAliases.Keys)
        editions = @($manifest.CompatiblePSEditions); psVersion = $manifest.PowerShellVersion.ToString(); tags = @($manifest.Tags)
        projectUri = [string]$manifest.ProjectUri; licenseUri = [string]$manifest.LicenseUri; releaseNotes = [string]$manifest.ReleaseNotes
    }
    manifestData = [pscustomobject]@{ functions = @($data.FunctionsToExport); cmdlets = @($data.CmdletsToExport); variables = @($data.VariablesToExport); aliases = @($data.AliasesToExport) }
    exported = @((Get-Module Az.KeyVault.Backup).ExportedFunctions.Keys | Sort-Object)
}
`;

describe('PowerShell module: metadata, manifest and help', function () {
  let run: PwshRun;
  let meta: Metadata;
  const command = (name: string): CommandInfo => {
    const found = meta.commands.find((c) => c.name === name);
    assert.ok(found, `${name} was read`);
    return found;
  };

  before(async function () {
    run = await runPwsh(SCRIPT);
    assert.deepEqual(run.errors, [], 'the metadata script ran without errors');
    const outputs = run.outputs as Record<string, unknown>[];
    const summary = outputs[outputs.length - 1] as Omit<Metadata, 'commands'>;
    meta = { ...summary, commands: outputs.slice(0, -1) as unknown as CommandInfo[] };
  });

  for (const az of CMDLETS) {
    describe(az.name, function () {
      it(`has exactly Az's parameter sets, ${az.defaultSet} by default`, function () {
        const c = command(az.name);
        assert.equal(c.defaultSet, az.defaultSet);
        assert.deepEqual(c.sets.map((s) => s.name).sort(), Object.keys(az.sets).sort());
        assert.deepEqual(c.sets.filter((s) => s.isDefault).map((s) => s.name), [az.defaultSet]);
      });

      it("gives every parameter Az's position, mandatory flag, pipeline binding, aliases and type in every set", function () {
        for (const set of command(az.name).sets) {
          const expectedSet = az.sets[set.name] ?? {};
          assert.deepEqual(set.parameters.map((p) => p.name).sort(), Object.keys(expectedSet).sort(), `parameters of ${set.name}`);
          for (const parameter of set.parameters) {
            const expected = az.parameters[parameter.name];
            const [position, mandatory] = expectedSet[parameter.name] ?? [];
            assert.ok(expected, parameter.name);
            assert.equal(parameter.position, position, `${set.name}/${parameter.name} position`);
            assert.equal(parameter.mandatory, mandatory, `${set.name}/${parameter.name} mandatory`);
            assert.equal(parameter.byValue, expected.byValue, `${set.name}/${parameter.name} by value`);
            assert.equal(parameter.byName, expected.byName, `${set.name}/${parameter.name} by property name`);
            assert.deepEqual([...parameter.aliases].sort(), [...expected.aliases].sort(), `${set.name}/${parameter.name} aliases`);
            assert.equal(parameter.type, expected.type, `${set.name}/${parameter.name} type`);
          }
        }
      });

      it('validates not-null-or-empty on every Az parameter but Force, and ThrottleLimit to 1..64 with default 16', function () {
        const c = command(az.name);
        const expected = Object.entries(az.parameters).filter(([, p]) => p.notNullOrEmpty).map(([name]) => name).sort();
        assert.deepEqual(c.notNullOrEmpty, expected);
        assert.deepEqual(c.throttleRange, [1, 64]);
        assert.equal(c.throttleDefault, '16');
      });

      it(`supports ShouldProcess without declaring ConfirmImpact, WhatIf or Confirm, and declares its output as Az does (${az.outputType.join(', ')})`, function () {
        const c = command(az.name);
        assert.equal(c.supportsShouldProcess, true);
        assert.equal(c.confirmImpactDeclared, false);
        assert.equal(c.declaresWhatIfOrConfirm, false);
        assert.deepEqual(c.outputType, az.outputType);
      });

      it('has comment-based help: synopsis, every parameter described, several examples incl. a whole vault of all three kinds, notes', function () {
        const help = command(az.name).help;
        assert.ok(help.synopsis.length > 0);
        assert.ok(help.examples.length >= 4, `${help.examples.length} examples`);
        const verb = az.operation === 'backup' ? 'Backup' : 'Restore';
        assert.ok(
          help.examples.some((code) => ['Secret', 'Key', 'Certificate'].every((noun) => code.includes(`${verb}-AzKeyVault${noun} `))),
          `an example ${az.operation === 'backup' ? 'backs up' : 'restores'} a whole vault of all three kinds`,
        );
        const feeder = az.operation === 'backup' ? `Get-AzKeyVault${az.name.slice('Backup-AzKeyVault'.length)} -VaultName \\S+` : 'Get-ChildItem \\S+';
        assert.ok(help.examples.some((code) => new RegExp(`${feeder} \\| ${az.name} `).test(code)), 'a pipeline of many items');
        const documented = help.parameters.filter((p) => p.described).map((p) => p.name).sort();
        for (const name of [...Object.keys(az.parameters), 'WhatIf', 'Confirm']) assert.ok(documented.includes(name), `help describes -${name}`);
        assert.ok(help.notes.trim().length > 0);
      });
    });
  }

  it('binds -InputFile of each Restore cmdlet also by property name, alias FullName: the one difference from Az, decided so that Get-ChildItem | Restore-... works', function () {
    for (const az of CMDLETS.filter((c) => c.operation === 'restore')) {
      for (const set of command(az.name).sets) {
        const inputFile = set.parameters.find((p) => p.name === 'InputFile');
        assert.ok(inputFile, `${az.name}/${set.name} has -InputFile`);
        assert.equal(inputFile.byName, INPUT_FILE_EXTRA.byName, `${az.name}/${set.name}: -InputFile by property name`);
        assert.deepEqual(inputFile.aliases, INPUT_FILE_EXTRA.aliases, `${az.name}/${set.name}: -InputFile's alias`);
        assert.equal(inputFile.byValue, false);
        assert.equal(inputFile.position, 1);
        assert.equal(inputFile.mandatory, true);
      }
    }
    // Nothing else of a Restore cmdlet binds by property name but what Az binds so (its resource ids).
    const byName = CMDLETS.flatMap((az) => command(az.name).sets.flatMap((s) => s.parameters.filter((p) => p.byName).map((p) => `${az.name} -${p.name}`)));
    assert.deepEqual([...new Set(byName)].sort(), [
      'Restore-AzKeyVaultCertificate -InputFile',
      'Restore-AzKeyVaultCertificate -ResourceId',
      'Restore-AzKeyVaultKey -HsmResourceId',
      'Restore-AzKeyVaultKey -InputFile',
      'Restore-AzKeyVaultKey -ResourceId',
      'Restore-AzKeyVaultSecret -InputFile',
      'Restore-AzKeyVaultSecret -ParentResourceId',
    ]);
  });

  it('keeps the secret backup\'s own help: the Az examples, a foreach of single calls and a whole-vault pipeline', function () {
    const help = command('Backup-AzKeyVaultSecret').help;
    assert.equal(help.examples.length, 6);
    assert.ok(help.examples.some((code) => /foreach \(\$name in/.test(code)), 'a foreach loop of single calls');
    assert.ok(help.examples.some((code) => /Get-AzKeyVaultSecret -VaultName \S+ \| Backup-AzKeyVaultSecret -OutputFile \S+ -Force/.test(code)));
  });

  it('passes Test-ModuleManifest with the required fields', function () {
    const m = meta.manifest;
    assert.equal(m['rootModule'], 'Az.KeyVault.Backup.psm1');
    assert.match(String(m['guid']), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.notEqual(m['guid'], '00000000-0000-0000-0000-000000000000');
    assert.deepEqual([...(m['functions'] as string[])].sort(), [...CMDLET_NAMES].sort());
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
    // Explicit lists, never wildcards, so PowerShell can discover the commands without loading the module.
    assert.deepEqual(meta.manifestData, { functions: CMDLET_NAMES, cmdlets: [], variables: [], aliases: [] });
    assert.deepEqual(meta.exported, [...CMDLET_NAMES].sort(), 'the module exports exactly the six');
  });

  it("keeps ModuleVersion on one line equal to package.json's version", function () {
    const version = packageVersion();
    const psd1 = readFileSync(moduleManifestPath(), 'utf8');
    const lines = psd1.split(/\r?\n/).filter((l) => /ModuleVersion\s*=/.test(l));
    assert.deepEqual(lines.map((l) => l.trim()), [`ModuleVersion = '${version}'`]);
    assert.equal(meta.manifest['version'], version);
  });
});
