import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { repoRoot } from '../support/paths.js';
import { psQuote, runPwsh, writeShippedModule } from './run-pwsh.js';

// Windows PowerShell 5.1 cannot run here, so its compatibility is checked statically: the fixture
// parses files with this PowerShell's parser and flags what 5.1 lacks (see its rule catalogue).

interface Finding {
  rule: string;
  file: string;
  line: number;
  snippet: string;
  message: string;
}
interface Rule {
  rule: string;
  description: string;
}
interface Snippet {
  text: string;
  /** Rule ids the snippet must produce, exactly. */
  expected: string[];
  ext?: '.ps1' | '.psd1';
  bom?: boolean;
}

const FIXTURE = join(repoRoot(), 'test', 'pwsh', 'fixtures', 'ps51-compat.ps1');
const PSD1 = join(repoRoot(), 'Az.KeyVault.Backup.psd1');
// The psm1 checked is the one that ships (build/module.mjs's join of src/module, which 5.1 loads),
// written fresh from the source; the public function's 7.3+ form beside it is not for 5.1.
function writeShippedPsm1(dir: string): string {
  writeShippedModule(dir);
  return join(dir, 'Az.KeyVault.Backup.psm1');
}

/** One snippet per line of `lines`, each of which must produce exactly `rule`. */
function each(rule: string, ...lines: string[]): Snippet[] {
  return lines.map((text) => ({ text, expected: [rule] }));
}

// Each snippet breaks one rule and nothing else.
const BAD: Snippet[] = [
  ...each('PS51.ParseError', 'function f {', '$x = @(1, 2'),
  ...each('PS51.Ternary', '$a = $true ? 1 : 2'),
  ...each('PS51.PipelineChain', 'Get-Item . && Get-Item ..', 'Get-Item . || Get-Item ..'),
  ...each('PS51.NullCoalescing', '$b = $a ?? 1', '$a ??= 2'),
  ...each('PS51.NullConditional', '${a}?.Length', '${a}?.ToString()', '${a}?[0]'),
  ...each('PS51.CleanBlock', 'function f { process { $_ } clean { $null } }'),
  ...each('PS51.BackgroundOperator', 'Start-Sleep -Seconds 1 &'),
  ...each('PS51.StringEscape', '"`u{1F600}"', '"`e[0m"', '$s = @"\n$x`e[1m\n"@', '"$("`u{41}")"'),
  ...each('PS51.NumberLiteral', '$n = 1u', '$n = 0b101', '$n = 2n', '$n = 0x1Fs', '$n = 7uy'),
  ...each('PS51.LeadingPipe', 'Get-Item .\n    | Select-Object -First 1', 'Get-Item . # comment\n| Select-Object -First 1'),
  ...each('PS51.PlatformVariable', 'if ($IsLinux) { 1 }', '$IsWindows', '$global:IsMacOS', '${IsCoreCLR}'),
  ...each('PS51.Pwsh7Variable', "$PSStyle.OutputRendering = 'PlainText'", '$PSNativeCommandArgumentPassing = 1'),
  ...each('PS51.Pwsh7Command', "Test-Json -Json '{}'", 'Get-Error', 'Remove-Alias -Name x', 'Get-Uptime', "'a' | Join-String"),
  ...each(
    'PS51.ForEachObjectParallel',
    '1..3 | ForEach-Object -Parallel { $_ }',
    '1..3 | % -Para { $_ }',
    '1..3 | foreach -Parallel { $_ }',
    '1..3 | Microsoft.PowerShell.Core\\ForEach-Object -Parallel { $_ }',
  ),
  ...each(
    'PS51.Pwsh7Parameter',
    "'{}' | ConvertFrom-Json -AsHashtable",
    "'{}' | ConvertFrom-Json -AsHash",
    "'{}' | ConvertFrom-Json -Depth 5",
    "'[]' | ConvertFrom-Json -NoEnumerate",
    'ConvertTo-Json -InputObject 1 -AsArray',
    'ConvertTo-Json -InputObject 1 -EscapeHandling EscapeNonAscii',
    'Get-Content -Path x -AsByteStream',
    'gc x -AsByte',
    'Set-Content -Path x -Value 1 -AsByteStream',
    'Add-Content -Path x -Value 1 -AsByteStream',
    'Split-Path -Path x -LeafBase',
    'Split-Path -Path x -Extension',
    'Invoke-WebRequest -Uri https://example.invalid -SkipCertificateCheck',
    'irm https://example.invalid -SkipCert',
    'Select-String -Pattern x -Path y -Raw',
    '$a | Where-Object -Not -Property x',
    "Start-Process -FilePath x -Environment @{ A = '1' }",
    'Start-Process -Path x',
    'Get-Content -LP x',
  ),
  ...each('PS51.Pwsh7Encoding', 'Set-Content -Path x -Value 1 -Encoding utf8NoBOM', 'Out-File -FilePath x -Encoding utf8BOM', "Get-Content x -Enc 'ansi'", 'Get-Content x -Encoding 1252'),
  ...each('PS51.JoinPathChildren', 'Join-Path a b c', 'Join-Path -Path a -ChildPath b c', 'Join-Path a b -AdditionalChildPath c', 'Join-Path a b -Additional c, d'),
  { text: '# café\n$x = 1\n', expected: ['PS51.NonAsciiWithoutBom'] },
  { text: "@{ ModuleVersion = '1.0'; Author = (Get-Date).Year }", expected: ['PS51.ManifestNotData'], ext: '.psd1' },
  { text: "@{ ModuleVersion = '1.0'; RootModule = \"$name.psm1\" }", expected: ['PS51.ManifestNotData'], ext: '.psd1' },
  { text: "$v = '1.0'\n@{ ModuleVersion = '1.0' }", expected: ['PS51.ManifestNotData'], ext: '.psd1' },
  { text: "@{ ModuleVersion = '1.0'; Tags = @('Azure') }", expected: ['PS51.ManifestKey'], ext: '.psd1' },
  { text: "@{ ModuleVersion = '1.0'; PowerShellVersion = '7.2' }", expected: ['PS51.ManifestPowerShellVersion'], ext: '.psd1' },
  ...each('House.NoWriteHost', "Write-Host 'hi'", "Microsoft.PowerShell.Utility\\Write-Host 'hi'"),
];

// The constructs the psm1 relies on, and near misses of every rule: valid in Windows PowerShell 5.1.
const BT = '`';
const GOOD_PS1 = `# Parsed only, never run. Non-ASCII with a BOM is fine: café
# Comments may say a ? b : c, a && b, $a ?? $b, clean { } and $IsLinux.
Set-Variable -Scope Script -Option Constant -Name SampleLimit -Value 64
$script:Map = [ordered]@{ LogLevel = '--log-level'; Limit = '--concurrency' }
function Invoke-Sample {
    [CmdletBinding(DefaultParameterSetName = 'ByName', SupportsShouldProcess)]
    [OutputType([string])]
    param(
        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ParameterSetName = 'ByName')]
        [ValidateNotNullOrEmpty()]
        [string]$Name,
        [ValidateRange(1, 64)]
        [int]$Count = 16
    )
    begin {
        $list = [System.Collections.Generic.List[string]]::new()
        $infoType = 'System.Runtime.InteropServices.RuntimeInformation' -as [type]
        $edition = $PSVersionTable.PSEdition
    }
    process {
        switch -Regex ([string]$Name) {
            '^(x64|amd64)$' { $list.Add('x64'); break }
            default { $list.Add(([string]$Name).ToLowerInvariant()) }
        }
        try { [void][System.IO.Path]::Combine('a', 'b') }
        catch { Write-Verbose $_.Exception.Message }
        finally { $list.Add('done') }
        if ($PSCmdlet.ShouldProcess($Name, 'Back up')) { $list -join ',' }
    }
    end {
        $text = @"
Name: $Name, escaped: ${BT}${BT}u{41} ${BT}$IsLinux ${BT}t ${BT}n
"@
        $clean = "${BT}n    clean {${BT}n        Stop-It${BT}n    }${BT}n"
        $literal = 'clean { } $IsLinux ?? x ? y : z'
        $json = ConvertTo-Json -InputObject $script:Map -Depth 5 -Compress
        $path = Join-Path a b
        $path = Join-Path -Path $path -ChildPath c
        $raw = Get-Content -LiteralPath $path -Raw -Encoding UTF8 -ErrorAction Ignore
        Set-Content -LiteralPath $path -Value $raw -Encoding Default -NoNewline -WhatIf
        Out-File -FilePath $path -InputObject $raw -Encoding ascii -Append -WhatIf
        $data = $json | ConvertFrom-Json
        $hits = $raw | Select-String -Pattern 'x' -SimpleMatch -Context 1
        $small = @(1, 2, 3) | Where-Object { $_ -gt 1 } | Where-Object -Property Length -NotIn 3 | Sort-Object -Descending
        $answer = Invoke-RestMethod -Uri 'https://example.invalid' -Method Get -TimeoutSec 5 -UseBasicParsing -ErrorAction Ignore
        $process = Start-Process -FilePath 'x' -ArgumentList 'a' -NoNewWindow -PassThru -WhatIf
        $leaf = Split-Path -Path $path -Leaf
        $guard = Get-Variable -Name PSStyle -ErrorAction Ignore
        $numbers = 0x1F + 10kb + 2l + 1.5d + 1e3
        1..2 | ForEach-Object -Process { $_ } -End { 'end' } | Out-String -Stream
        $chained = Get-Item . | Select-Object -First 1 |
            ForEach-Object { $_.FullName }
        $member = $data.Name; $index = $small[0]
        Write-Output ($text, $clean, $literal, $hits, $answer, $process, $leaf, $guard, $numbers, $chained, $member, $index, $edition, $infoType, $Count)
    }
}
`;

const GOOD_PSD1 = `@{
    # A manifest with every kind of data Import-PowerShellDataFile accepts.
    ModuleVersion = '1.0.0'
    GUID = '3295ef55-cc78-466b-b5f4-f7ac3b53221a'
    Author = "Someone"
    PowerShellVersion = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FunctionsToExport = @('Invoke-Sample')
    CmdletsToExport = @()
    RequiredModules = @(@{ ModuleName = 'Sample'; ModuleVersion = '1.0' })
    FileList = 'a.ps1', 'b.ps1'
    PrivateData = @{ PSData = @{ Tags = @('Azure'); Prerelease = $null; RequireLicenseAcceptance = $false; Build = -1 } }
}
`;

const GOOD: Snippet[] = [
  { text: GOOD_PS1, expected: [], bom: true },
  { text: GOOD_PSD1, expected: [], ext: '.psd1' },
];

describe('Windows PowerShell 5.1 compatibility of the module, checked by parser rules', function () {
  let dir: string;
  let realFindings: Finding[];
  let catalogue: string[];
  const found = new Map<string, Finding[]>();
  const files = new Map<Snippet, string>();
  let ternaryCopy: string;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'azkvb-ps51-'));
    const PSM1 = writeShippedPsm1(join(dir, 'shipped'));
    [...BAD, ...GOOD].forEach((snippet, i) => {
      const file = join(dir, `snippet-${String(i).padStart(3, '0')}${snippet.ext ?? '.ps1'}`);
      writeFileSync(file, (snippet.bom ? '\uFEFF' : '') + snippet.text);
      files.set(snippet, file);
    });
    ternaryCopy = join(dir, 'Az.KeyVault.Backup.psm1');
    writeFileSync(ternaryCopy, readFileSync(PSM1, 'utf8') + '\n$script:Sample = $true ? 1 : 2\n');
    const paths = [...files.values(), ternaryCopy].map(psQuote).join(', ');

    const [real, snippets] = await Promise.all([
      runPwsh(`& ${psQuote(FIXTURE)} -Path ${psQuote(PSM1)}, ${psQuote(PSD1)}`, { module: null }),
      runPwsh(`[pscustomobject]@{ rules = @(& ${psQuote(FIXTURE)} -ListRules); findings = @(& ${psQuote(FIXTURE)} -Path ${paths}) }`, { module: null }),
    ]);
    assert.deepEqual(real.errors, [], 'the rules ran on the module without errors');
    assert.deepEqual(snippets.errors, [], 'the rules ran on the snippets without errors');
    realFindings = real.outputs as Finding[];
    const result = snippets.outputs[0] as { rules: Rule[]; findings: Finding[] };
    catalogue = result.rules.map((r) => r.rule);
    for (const finding of result.findings) {
      const key = basename(finding.file);
      found.set(key, [...(found.get(key) ?? []), finding]);
    }
  });

  after(function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function rulesFound(file: string): string[] {
    return [...new Set((found.get(basename(file)) ?? []).map((f) => f.rule))].sort();
  }

  it('finds no parse error and nothing newer than 5.1 in the shipped psm1 and the psd1', function () {
    assert.deepEqual(realFindings, []);
  });

  it('fires every rule on a snippet that breaks it, and only that rule', function () {
    const actual = BAD.map((s) => ({ snippet: s.text, rules: rulesFound(files.get(s) ?? '') }));
    const expected = BAD.map((s) => ({ snippet: s.text, rules: [...s.expected].sort() }));
    assert.deepEqual(actual, expected);
    // No rule goes untested: the bad snippets cover the fixture's whole catalogue.
    assert.deepEqual([...new Set(BAD.flatMap((s) => s.expected))].sort(), [...catalogue].sort());
  });

  it('flags 7-only syntax added to a copy of the real module, at its line', function () {
    const findings = found.get(basename(ternaryCopy)) ?? [];
    const lastLine = readFileSync(ternaryCopy, 'utf8').trimEnd().split('\n').length;
    assert.deepEqual(
      findings.map((f) => ({ rule: f.rule, line: f.line })),
      [{ rule: 'PS51.Ternary', line: lastLine }],
    );
  });

  it('finds nothing in 5.1 code using the constructs the module relies on, or in a data-only manifest', function () {
    for (const snippet of GOOD) {
      assert.deepEqual(found.get(basename(files.get(snippet) ?? '')) ?? [], [], snippet.text.split('\n')[0]);
    }
  });
});
