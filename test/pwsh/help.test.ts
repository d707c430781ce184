import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.js';
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

const PARAMETERS = ['VaultName', 'Name', 'InputObject', 'Id', 'OutputFile', 'Force', 'DefaultProfile', 'ThrottleLimit', 'WhatIf', 'Confirm'];

// What Get-Help shows for each parameter. Comment-based help numbers positions from 1 (Position = 0
// in the param block shows as 1), so these are the behaviour.md positions plus one.
const EXPECTED: Record<string, { required: string; position: string; pipelineInput: string; aliases: string[] }> = {
  VaultName: { required: 'true', position: '1', pipelineInput: 'false', aliases: [] },
  Name: { required: 'true', position: '2', pipelineInput: 'false', aliases: ['SecretName'] },
  InputObject: { required: 'true', position: '1', pipelineInput: 'true (ByValue)', aliases: ['Secret'] },
  Id: { required: 'true', position: '1', pipelineInput: 'false', aliases: ['SecretId'] },
  OutputFile: { required: 'false', position: '3', pipelineInput: 'false', aliases: [] },
  Force: { required: 'false', position: 'named', pipelineInput: 'false', aliases: [] },
  DefaultProfile: { required: 'false', position: 'named', pipelineInput: 'false', aliases: ['AzContext', 'AzureRmContext', 'AzureCredential'] },
  ThrottleLimit: { required: 'false', position: 'named', pipelineInput: 'false', aliases: [] },
  WhatIf: { required: 'false', position: 'named', pipelineInput: 'false', aliases: [] },
  Confirm: { required: 'false', position: 'named', pipelineInput: 'false', aliases: [] },
};

// One pwsh start collects every view of the help, as a user would see it (text at a width that
// wraps nothing) and as objects for the per-parameter values.
const SCRIPT = `
$width = 200
$default = Get-Help Backup-AzKeyVaultSecret
$full = Get-Help Backup-AzKeyVaultSecret -Full
$examples = Get-Help Backup-AzKeyVaultSecret -Examples
$parameterHelp = @(${PARAMETERS.map((p) => `'${p}'`).join(', ')} | ForEach-Object { Get-Help Backup-AzKeyVaultSecret -Parameter $_ })
[pscustomobject]@{
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
`;

/** Whitespace-insensitive: help text is re-indented and its lines may break differently. */
function squash(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The .EXAMPLE blocks of the command's comment-based help, read from its source: the source of truth. */
function examplesInSource(): { commands: string[]; remarks: string }[] {
  const source = readFileSync(join(repoRoot(), 'src', 'module', 'public', 'Backup-AzKeyVaultSecret.ps1'), 'utf8');
  const start = source.indexOf('function Backup-AzKeyVaultSecret {');
  assert.ok(start >= 0, 'the source defines Backup-AzKeyVaultSecret');
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
  let help: HelpView;

  before(async function () {
    run = await runPwsh(SCRIPT);
    assert.deepEqual(run.errors, [], 'the help script ran without errors');
    help = run.outputs[0] as HelpView;
    assert.ok(help, 'the help script wrote its result');
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
    assert.match(help.defaultView, /Get-Help Backup-AzKeyVaultSecret -Examples/, 'the default view points to the examples');
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
    assert.match(body('SYNOPSIS'), /Backs up a secret in a key vault/);
    assert.match(body('OUTPUTS'), /System\.String/);
    assert.match(body('NOTES'), /Differences from Az\.KeyVault/);
  });

  it('ends -Full with related links to the about topic, Restore-AzKeyVaultSecret and Get-AzKeyVaultSecret', function () {
    const m = /^RELATED LINKS\s*$([\s\S]*?)(?:^\S|$(?![\s\S]))/m.exec(help.full);
    assert.ok(m, '-Full has a RELATED LINKS section');
    const links = (m[1] ?? '').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    assert.deepEqual(links, ['about_Az.KeyVault.Backup', 'Restore-AzKeyVaultSecret', 'Get-AzKeyVaultSecret']);
  });

  it('shows the syntax of all three parameter sets', function () {
    assert.equal(help.syntaxItems, 3);
    const syntax = /^SYNTAX\s*$([\s\S]*?)^DESCRIPTION/m.exec(help.full)?.[1] ?? '';
    const lines = syntax.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('Backup-AzKeyVaultSecret '));
    assert.equal(lines.length, 3, syntax);
    assert.ok(lines.some((l) => l.includes('[-VaultName] <String> [-Name] <String>')), 'BySecretName');
    assert.ok(lines.some((l) => l.includes('[-InputObject] <Object>')), 'BySecret');
    assert.ok(lines.some((l) => l.includes('[-Id] <String>')), 'BySecretUri');
    for (const line of lines) {
      for (const common of ['[[-OutputFile] <String>]', '[-Force]', '[-DefaultProfile <Object>]', '[-ThrottleLimit <Int32>]', '[-WhatIf]', '[-Confirm]']) {
        assert.ok(line.includes(common), `${common} in: ${line}`);
      }
    }
  });

  it('shows in -Examples exactly the examples of the source (5 today), each with its code and remarks', function () {
    const source = examplesInSource();
    assert.equal(source.length, 5, 'the source has five .EXAMPLE blocks');
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

  it('shows the Az examples and the whole-vault one', function () {
    const codes = help.examples.map((e) => squash(e.code));
    assert.ok(codes.some((c) => c === "Backup-AzKeyVaultSecret -VaultName 'MyKeyVault' -Name 'MySecret'"));
    assert.ok(codes.some((c) => c.includes("-OutputFile 'C:\\Backup.blob' -Force")));
    assert.ok(codes.some((c) => c.includes('Backup-AzKeyVaultSecret -Secret $secret')));
    assert.ok(codes.some((c) => /Get-AzKeyVaultSecret -VaultName \S+ \| Backup-AzKeyVaultSecret -OutputFile/.test(c)));
  });

  it('describes every parameter in Get-Help -Parameter, with its required, position and pipeline values', function () {
    assert.deepEqual(help.parameters.map((p) => p.name), PARAMETERS);
    for (const parameter of help.parameters) {
      const expected = EXPECTED[parameter.name];
      assert.ok(expected, parameter.name);
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
      for (const alias of EXPECTED[parameter.name]?.aliases ?? []) {
        assert.ok(listed.has(alias), `-${parameter.name} names its alias ${alias}: ${parameter.text}`);
      }
    }
  });
});
