import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.js';
import { CMDLETS, CMDLET_NAMES, NAMED, type CmdletSurface } from './az-surface.js';
import { runPwsh, type PwshRun } from './run-pwsh.js';

interface ParameterHelp {
  name: string;
  description: string;
  required: string;
  position: string;
  pipelineInput: string;
  text: string;
}
interface ExampleHelp {
  title: string;
  code: string;
  remarks: string;
}
interface HelpView {
  category: string;
  /** The first PSTypeName of each view: MamlCommandHelpInfo... when the written help was found. */
  types: string[];
  defaultView: string;
  syntaxItems: number;
  full: string;
  examplesText: string;
  examples: ExampleHelp[];
  parameters: ParameterHelp[];
}

interface CommandHelp extends HelpView {
  name: string;
}

const title = (az: CmdletSurface): string => az.kind[0]!.toUpperCase() + az.kind.slice(1);
const parametersOf = (az: CmdletSurface): string[] => [...Object.keys(az.parameters), 'WhatIf', 'Confirm'];

/**
 * What Get-Help shows for each parameter. Comment-based help numbers positions from 1 (Position = 0
 * in the param block shows as 1), so these are the Az positions plus one.
 */
function expectedHelp(az: CmdletSurface, name: string): { required: string; position: string; pipelineInput: string; aliases: string[] } {
  if (name === 'WhatIf' || name === 'Confirm') return { required: 'false', position: 'named', pipelineInput: 'false', aliases: [] };
  const parameter = az.parameters[name]!;
  const inSets = Object.values(az.sets).map((set) => set[name]).filter((x): x is [number, boolean] => x !== undefined);
  const [position, mandatory] = inSets[0]!;
  const pipelineInput = parameter.byValue ? 'true (ByValue)' : parameter.byName ? 'true (ByPropertyName)' : 'false';
  return { required: String(mandatory), position: position === NAMED ? 'named' : String(position + 1), pipelineInput, aliases: parameter.aliases };
}

// One pwsh start collects every view of every command's help, as a user would see it (text at a
// width that wraps nothing) and as objects for the per-parameter values; one output per command.
const SCRIPT = `
$width = 200
${CMDLETS.map((az) => `$parameterNames_${az.name.replace(/-/g, '_')} = @(${parametersOf(az).map((p) => `'${p}'`).join(', ')})`).join('\n')}
foreach ($name in @(${CMDLET_NAMES.map((n) => `'${n}'`).join(', ')})) {
    $default = Get-Help $name
    $full = Get-Help $name -Full
    $examples = Get-Help $name -Examples
    $names = Get-Variable -Name ('parameterNames_' + $name.Replace('-', '_')) -ValueOnly
    $parameterHelp = @($names | ForEach-Object { Get-Help $name -Parameter $_ })
    [pscustomobject]@{
        name = $name
        category = [string]$full.Category
        types = @(@($default, $full, $examples) + $parameterHelp | ForEach-Object { [string]$_.PSObject.TypeNames[0] })
        defaultView = $default | Out-String -Width $width
        syntaxItems = @($full.syntax.syntaxItem).Count
        full = $full | Out-String -Width $width
        examplesText = $examples | Out-String -Width $width
        examples = @($examples.examples.example | ForEach-Object {
            [pscustomobject]@{ title = [string]$_.title; code = [string]$_.code; remarks = (@($_.remarks | ForEach-Object { $_.Text }) -join [char]10).Trim() }
        })
        parameters = @($parameterHelp | ForEach-Object {
            $p = $_
            [pscustomobject]@{
                name = [string]$p.name
                description = (@($p.description | ForEach-Object { $_.Text }) -join [char]10).Trim()
                required = [string]$p.required
                position = [string]$p.position
                pipelineInput = [string]$p.pipelineInput
                text = $p | Out-String -Width $width
            }
        })
    }
}
`;

/** Whitespace-insensitive: help text is re-indented and its lines may break differently. */
function squash(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The .EXAMPLE blocks of the command's comment-based help, read from its source: the source of truth. */
function examplesInSource(name: string): { commands: string[]; remarks: string }[] {
  const source = readFileSync(join(repoRoot(), 'src', 'module', 'public', `${name}.ps1`), 'utf8');
  const start = source.indexOf(`function ${name} {`);
  assert.ok(start >= 0, `the source defines ${name}`);
  const help = source.slice(start, source.indexOf('#>', start));
  const blocks = help.split(/^\s*\.EXAMPLE\s*$/m).slice(1).map((b) => b.split(/^\s*\.[A-Z]+\b/m)[0] ?? '');
  return blocks.map((block) => {
    const lines = block.split(/\r?\n/).map((l) => l.trim());
    const commands = lines.filter((l) => /^PS [^>]*>/.test(l)).map((l) => l.replace(/^PS [^>]*>\s*/, ''));
    // The last paragraph is the explanation; the ones between the code and it are sample output.
    const paragraphs = block.split(/\r?\n\s*\r?\n/).map((p) => p.trim()).filter((p) => p.length > 0 && !p.startsWith('PS '));
    return { commands, remarks: paragraphs[paragraphs.length - 1] ?? '' };
  });
}

// What Get-Help says when a cmdlet's help files are missing. A function without help gets no such
// words, only help made up from its metadata (ExtendedCmdletHelpInfo, "REMARKS None").
const NOT_FOUND = [/Update-Help/i, /partial help/i, /cannot find the Help files/i];

describe('PowerShell module: Get-Help shows the whole help', function () {
  let run: PwshRun;
  const helps = new Map<string, CommandHelp>();

  before(async function () {
    run = await runPwsh(SCRIPT);
    assert.deepEqual(run.errors, [], 'the help script ran without errors');
    for (const output of run.outputs as CommandHelp[]) helps.set(output.name, output);
    assert.deepEqual([...helps.keys()], CMDLET_NAMES, 'the help script wrote every command');
  });

  for (const az of CMDLETS) {
    const PARAMETERS = parametersOf(az);
    describe(az.name, function () {
      let help: CommandHelp;
      before(function () {
        help = helps.get(az.name)!;
      });

      it('finds the written help in every view, never a "partial help" or made-up fallback', function () {
        assert.equal(help.category, 'Function');
        assert.deepEqual(help.types, [
          'MamlCommandHelpInfo',
          'MamlCommandHelpInfo#FullView',
          'MamlCommandHelpInfo#ExamplesView',
          ...PARAMETERS.map(() => 'MamlCommandHelpInfo#parameter'),
        ]);
        const texts = [help.defaultView, help.full, help.examplesText, ...help.parameters.map((p) => p.text)];
        for (const text of texts) {
          for (const pattern of NOT_FOUND) assert.doesNotMatch(text, pattern);
          assert.doesNotMatch(text, /^REMARKS\s+None\s*$/m);
        }
        assert.match(help.defaultView, new RegExp(`Get-Help ${az.name} -Examples`), 'the default view points to the examples');
      });

      it('shows every section in -Full, in the usual order: synopsis, syntax, description, parameters, inputs, outputs, notes, examples', function () {
        const sections = ['NAME', 'SYNOPSIS', 'SYNTAX', 'DESCRIPTION', 'PARAMETERS', 'INPUTS', 'OUTPUTS', 'NOTES'];
        const at = sections.map((s) => help.full.search(new RegExp(`^${s}\\s*$`, 'm')));
        sections.forEach((s, i) => assert.ok((at[i] ?? -1) >= 0, `-Full has a ${s} section`));
        assert.deepEqual([...at].sort((a, b) => a - b), at, 'sections in order');
        const firstExample = help.full.search(/-+ EXAMPLE 1 -+/);
        assert.ok(firstExample > (at[at.length - 1] ?? 0), 'the examples follow the notes');
        // Each section has text of its own, not just a heading.
        const body = (name: string): string => {
          const m = new RegExp(`^${name}\\s*$([\\s\\S]*?)^\\S`, 'm').exec(help.full);
          return (m?.[1] ?? '').trim();
        };
        for (const name of ['SYNOPSIS', 'DESCRIPTION', 'INPUTS', 'OUTPUTS', 'NOTES']) assert.ok(body(name).length > 0, `${name} is not empty`);
        assert.match(body('SYNOPSIS'), new RegExp(`\\b${az.kind}\\b`), 'the synopsis names the kind');
        assert.match(body('OUTPUTS'), az.operation === 'backup' ? /System\.String/ : new RegExp(az.outputType[0]!.replace(/\./g, '\\.')));
        assert.match(body('NOTES'), new RegExp(`Differences from Az\\.KeyVault's ${az.name}`));
      });

      it('ends -Full with related links to the about topic, its counterpart and the Get cmdlet of its kind', function () {
        const m = /^RELATED LINKS\s*$([\s\S]*?)(?:^\S|$(?![\s\S]))/m.exec(help.full);
        assert.ok(m, '-Full has a RELATED LINKS section');
        const links = (m[1] ?? '').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
        const counterpart = `${az.operation === 'backup' ? 'Restore' : 'Backup'}-AzKeyVault${title(az)}`;
        assert.deepEqual(links, ['about_Az.KeyVault.Backup', counterpart, `Get-AzKeyVault${title(az)}`]);
      });

      it('shows the syntax of every parameter set', function () {
        const sets = Object.keys(az.sets);
        assert.equal(help.syntaxItems, sets.length);
        const syntax = /^SYNTAX\s*$([\s\S]*?)^DESCRIPTION/m.exec(help.full)?.[1] ?? '';
        const lines = syntax.split('\n').map((l) => l.trim()).filter((l) => l.startsWith(`${az.name} `));
        assert.equal(lines.length, sets.length, syntax);
        const common = ['[-DefaultProfile <Object>]', '[-ThrottleLimit <Int32>]', '[-WhatIf]', '[-Confirm]'];
        if (az.operation === 'backup') common.push('[[-OutputFile] <String>]', '[-Force]');
        else common.push('[-InputFile] <String>');
        for (const line of lines) for (const part of common) assert.ok(line.includes(part), `${part} in: ${line}`);
      });

      it('shows in -Examples exactly the examples of the source, each with its code and remarks', function () {
        const source = examplesInSource(az.name);
        assert.ok(source.length >= 4, `${az.name}'s source has ${source.length} .EXAMPLE blocks`);
        assert.equal(help.examples.length, source.length);
        const shown = help.examplesText.match(/-+ EXAMPLE \d+ -+/g) ?? [];
        assert.deepEqual(shown.map((t) => /\d+/.exec(t)?.[0]), source.map((_, i) => String(i + 1)), 'one EXAMPLE header per example, numbered');
        const text = squash(help.examplesText);
        const full = squash(help.full);
        source.forEach((example, i) => {
          const seen = help.examples[i];
          assert.ok(seen, `example ${i + 1}`);
          assert.ok(example.commands.length > 0 && example.remarks.length > 0, `example ${i + 1} in the source has code and remarks`);
          for (const command of example.commands) {
            assert.ok(squash(seen.code).includes(squash(command)), `example ${i + 1} code: ${command}`);
            assert.ok(text.includes(squash(command)), `-Examples shows: ${command}`);
            assert.ok(full.includes(squash(command)), `-Full shows: ${command}`);
          }
          assert.ok(squash(seen.remarks).includes(squash(example.remarks)), `example ${i + 1} remarks`);
          assert.ok(text.includes(squash(example.remarks)), `-Examples shows the remarks of example ${i + 1}`);
        });
      });

      it('describes every parameter in Get-Help -Parameter, with its required, position and pipeline values', function () {
        assert.deepEqual(help.parameters.map((p) => p.name), PARAMETERS);
        for (const parameter of help.parameters) {
          const expected = expectedHelp(az, parameter.name);
          assert.ok(parameter.description.length > 0, `-${parameter.name} has a description`);
          assert.equal(parameter.required, expected.required, `-${parameter.name} required`);
          assert.equal(parameter.position, expected.position, `-${parameter.name} position`);
          assert.equal(parameter.pipelineInput, expected.pipelineInput, `-${parameter.name} pipeline input`);
          // The text view shows the same, with the description.
          const text = parameter.text;
          assert.match(text, new RegExp(`^-${parameter.name} `, 'm'), `-${parameter.name} heading`);
          assert.ok(squash(text).includes(squash(parameter.description)), `-${parameter.name} text shows the description`);
          assert.match(text, new RegExp(`Required\\?\\s+${expected.required}\\s*$`, 'm'));
          assert.match(text, new RegExp(`Position\\?\\s+${expected.position}\\s*$`, 'm'));
          assert.match(text, new RegExp(`Accept pipeline input\\?\\s+${expected.pipelineInput.replace(/[()]/g, '\\$&')}\\s*$`, 'm'));
        }
      });

      it("names each parameter's aliases in its help", function () {
        for (const parameter of help.parameters) {
          // "Alias: X." / "Aliases: X, Y." in the description, or a filled-in Aliases row.
          const listed = new Set<string>();
          for (const m of squash(parameter.text).matchAll(/\bAlias(?:es)?\b\??:?\s*([A-Za-z]+(?:,\s*[A-Za-z]+)*)/g)) {
            for (const word of (m[1] ?? '').split(',')) listed.add(word.trim());
          }
          for (const alias of expectedHelp(az, parameter.name).aliases) {
            assert.ok(listed.has(alias), `-${parameter.name} names its alias ${alias}: ${parameter.text}`);
          }
        }
      });
    });
  }

  it("shows the secret backup's Az examples and its whole-vault one", function () {
    const codes = helps.get('Backup-AzKeyVaultSecret')!.examples.map((e) => squash(e.code));
    assert.ok(codes.some((c) => c === "Backup-AzKeyVaultSecret -VaultName 'MyKeyVault' -Name 'MySecret'"));
    assert.ok(codes.some((c) => c.includes("-OutputFile 'C:\\Backup.blob' -Force")));
    assert.ok(codes.some((c) => c.includes('Backup-AzKeyVaultSecret -Secret $secret')));
    assert.ok(codes.some((c) => /Get-AzKeyVaultSecret -VaultName \S+ \| Backup-AzKeyVaultSecret -OutputFile/.test(c)));
  });

  it('shows each cmdlet of Az its own Az examples, with the alias Az uses for the object', function () {
    const codes = (name: string) => helps.get(name)!.examples.map((e) => squash(e.code));
    assert.ok(codes('Backup-AzKeyVaultKey').some((c) => c.includes('Backup-AzKeyVaultKey -Key $key')));
    assert.ok(codes('Backup-AzKeyVaultKey').some((c) => c.includes("Backup-AzKeyVaultKey -HsmName 'MyHsm'")));
    assert.ok(codes('Backup-AzKeyVaultCertificate').some((c) => c.includes('Backup-AzKeyVaultCertificate -Certificate $cert')));
    for (const name of ['Restore-AzKeyVaultSecret', 'Restore-AzKeyVaultKey', 'Restore-AzKeyVaultCertificate']) {
      assert.ok(codes(name).some((c) => c.includes(`${name} -VaultName 'MyKeyVault' -InputFile 'C:\\Backup.blob'`)), name);
      assert.ok(codes(name).some((c) => /Get-ChildItem \S+ \| Restore-AzKeyVault\w+ -VaultName/.test(c)), `${name}: piped files`);
    }
    assert.ok(codes('Restore-AzKeyVaultKey').some((c) => c.includes("Restore-AzKeyVaultKey -HsmName 'MyHsm'")));
  });
});
