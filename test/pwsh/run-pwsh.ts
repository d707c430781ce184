import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pwshPath, repoRoot } from '../support/paths.js';
import { runProcess } from '../support/spawn.js';

export interface PwshError {
  fqid: string;
  category: string;
  targetType: string | null;
  target: string | null;
  /** For diagnosing a failing test only; assertions use fqid and category. */
  message: string;
}

export interface PwshRun {
  /** Pipeline output of the script, as JSON values (strings stay strings). */
  outputs: unknown[];
  outputTypes: string[];
  errors: PwshError[];
  /** Outputs and errors interleaved as they came: 'output' or 'error:<FullyQualifiedErrorId>'. */
  sequence: string[];
  verbose: string[];
  warnings: string[];
  debug: string[];
  /** What went to the host (What if: lines and the like). */
  hostOutput: string;
  stderr: string;
  code: number | null;
}

export interface PwshOptions {
  /** Extra environment, e.g. the local vault's. */
  env?: Record<string, string>;
  /** Process working directory; a fresh empty directory by default, so it is never the PowerShell location under test. */
  cwd?: string;
  /** Module manifest or psm1 to import first; the repository's module by default, null for none. */
  module?: string | null;
  timeoutMs?: number;
}

export function moduleManifestPath(): string {
  return join(repoRoot(), 'Az.KeyVault.Backup.psd1');
}

/**
 * PowerShell that sorts every record of a merged stream by kind into $result (Add-Record), and
 * writes $result as JSON to $ResultPath: the shape runPwsh returns, shared with the Windows suite's
 * wrapper so both read PowerShell's records one way.
 */
export const RECORD_SORTER = String.raw`$result = [ordered]@{ outputs = [System.Collections.Generic.List[object]]::new(); outputTypes = [System.Collections.Generic.List[string]]::new(); errors = [System.Collections.Generic.List[object]]::new(); sequence = [System.Collections.Generic.List[string]]::new(); verbose = [System.Collections.Generic.List[string]]::new(); warnings = [System.Collections.Generic.List[string]]::new(); debug = [System.Collections.Generic.List[string]]::new() }
function Add-Record($record) {
    if ($record -is [System.Management.Automation.ErrorRecord]) {
        $target = $null; $targetType = $null
        if ($null -ne $record.TargetObject) { $target = [string]$record.TargetObject; $targetType = $record.TargetObject.GetType().FullName }
        $result.sequence.Add('error:' + $record.FullyQualifiedErrorId)
        $result.errors.Add([ordered]@{ fqid = $record.FullyQualifiedErrorId; category = $record.CategoryInfo.Category.ToString(); targetType = $targetType; target = $target; message = $record.Exception.Message })
    }
    elseif ($record -is [System.Management.Automation.VerboseRecord]) { $result.verbose.Add($record.Message) }
    elseif ($record -is [System.Management.Automation.WarningRecord]) { $result.warnings.Add($record.Message) }
    elseif ($record -is [System.Management.Automation.DebugRecord]) { $result.debug.Add($record.Message) }
    elseif ($record -is [System.Management.Automation.InformationRecord]) { }
    else {
        $result.outputs.Add($record)
        $result.sequence.Add('output')
        if ($null -eq $record) { $result.outputTypes.Add('null') } else { $result.outputTypes.Add($record.GetType().FullName) }
    }
}
`;
export const RESULT_WRITER = String.raw`$json = ConvertTo-Json -InputObject $result -Depth 8
[System.IO.File]::WriteAllText($ResultPath, $json, [System.Text.UTF8Encoding]::new($false))`;

// Runs the test script with every stream merged into the pipeline, sorts the records by kind and
// writes them as JSON to a file, so host chatter on stdout can never corrupt the result.
const WRAPPER = String.raw`
param([string]$ResultPath, [string]$ScriptPath, [string]$ModulePath)
$ErrorActionPreference = 'Continue'
$ProgressPreference = 'SilentlyContinue'
if ($null -ne (Get-Variable -Name PSStyle -ErrorAction Ignore)) { $PSStyle.OutputRendering = 'PlainText' }
${RECORD_SORTER}try {
    if ($ModulePath) { Import-Module $ModulePath -Force -ErrorAction Stop }
    & $ScriptPath *>&1 | ForEach-Object { Add-Record $_ }
}
catch { Add-Record $_ }
${RESULT_WRITER}
`;

/** Environment for pwsh: enough to run it, nothing that could carry a developer's Azure credentials. */
function pwshEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    LANG: 'C.UTF-8',
    POWERSHELL_TELEMETRY_OPTOUT: '1',
    POWERSHELL_UPDATECHECK: 'Off',
    NO_COLOR: '1',
  };
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('DOTNET_') && value !== undefined) env[key] = value;
  }
  return { ...env, ...extra };
}

export async function runPwsh(script: string, options: PwshOptions = {}): Promise<PwshRun> {
  const work = mkdtempSync(join(tmpdir(), 'azkvb-pwsh-'));
  try {
    const wrapperPath = join(work, 'wrapper.ps1');
    const scriptPath = join(work, 'script.ps1');
    const resultPath = join(work, 'result.json');
    const cwd = options.cwd ?? join(work, 'cwd');
    mkdirSync(cwd, { recursive: true });
    writeFileSync(wrapperPath, WRAPPER);
    writeFileSync(scriptPath, script);
    const modulePath = options.module === undefined ? moduleManifestPath() : options.module;
    const args = ['-NoProfile', '-NonInteractive', '-File', wrapperPath, '-ResultPath', resultPath, '-ScriptPath', scriptPath];
    if (modulePath) args.push('-ModulePath', modulePath);

    const { code, stdout, stderr } = await runProcess(pwshPath(), args, { cwd, env: pwshEnv(options.env), stdin: 'ignore', timeoutMs: options.timeoutMs ?? 50_000 });

    let parsed: Omit<PwshRun, 'hostOutput' | 'stderr' | 'code'>;
    try {
      parsed = JSON.parse(readFileSync(resultPath, 'utf8').replace(/^\uFEFF/, '')) as typeof parsed;
    } catch (error) {
      throw new Error(`pwsh left no result (exit ${code}): ${(error as Error).message}\nstdout: ${stdout}\nstderr: ${stderr}`);
    }
    return { ...parsed, hostOutput: stdout, stderr, code };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Quotes a value as a PowerShell single-quoted string literal. */
export function psQuote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Writes the build's join of src/module (build/module.mjs: the psm1 and Public/) into `dir`, freshly from the source. */
export function writeShippedModule(dir: string): void {
  execFileSync(process.execPath, [join(repoRoot(), 'build', 'module.mjs'), dir], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A copy of the module as it ships (the manifest, and build/module.mjs's join of src/module) in a
 * fresh directory, optionally with a file at the place the module looks for its executable: used
 * to prove what happens when the executable is missing or is a trap that records being started.
 */
export function copyModule(executable?: { rid: string; name: string; content: string; mode: number }): { dir: string; manifest: string } {
  const dir = mkdtempSync(join(tmpdir(), 'azkvb-module-'));
  copyFileSync(join(repoRoot(), 'Az.KeyVault.Backup.psd1'), join(dir, 'Az.KeyVault.Backup.psd1'));
  writeShippedModule(dir);
  if (executable) {
    const binDir = join(dir, 'bin', executable.rid);
    mkdirSync(binDir, { recursive: true });
    writeFileSync(join(binDir, executable.name), executable.content, { mode: executable.mode });
  }
  return { dir, manifest: join(dir, 'Az.KeyVault.Backup.psd1') };
}

/**
 * What the tests of a describe block make and must undo after each test, last made first: `defer`
 * takes any undo (a server to close, a stand-in module to remove), `dir` makes a temporary folder
 * that is removed with the rest. Registers its own afterEach.
 */
export function useCleanups(): { defer(undo: () => void | Promise<void>): void; dir(prefix: string): string } {
  const undos: (() => void | Promise<void>)[] = [];
  afterEach(async function () {
    for (const undo of undos.splice(0).reverse()) await undo();
  });
  return {
    defer: (undo) => void undos.push(undo),
    dir(prefix) {
      const made = tempDir(prefix);
      undos.push(() => rmSync(made, { recursive: true, force: true }));
      return made;
    },
  };
}

/** Makes a fresh, owner-only temporary directory for a test's backup files. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
