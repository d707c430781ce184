import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RECORD_SORTER, RESULT_WRITER, type PwshRun } from '../pwsh/run-pwsh.js';
import { listZip, MODULE_NAME, packageVersion, releaseDir } from '../release/support.js';
import { repoRoot } from '../support/paths.js';
import { runProcess } from '../support/spawn.js';

export { psQuote } from '../pwsh/run-pwsh.js';

/** What build/windows-pwsh.mjs made: PowerShell 7.6.9 for Windows and the Wine prefix it runs in. */
export interface WindowsHost {
  wine: string;
  wineserver: string;
  prefix: string;
  hostDir: string;
  pwshExe: string;
}

export async function windowsHost(): Promise<WindowsHost> {
  const builder = pathToFileURL(join(repoRoot(), 'build', 'windows-pwsh.mjs')).href;
  const { ensureWindowsPwsh } = (await import(builder)) as { ensureWindowsPwsh: () => WindowsHost };
  return ensureWindowsPwsh();
}

/** A Linux path as Windows programs under Wine see it (drive Z: is the Linux root). */
export function zPath(linuxPath: string): string {
  return `Z:${linuxPath.replace(/\//g, '\\')}`;
}

/** C:\ of the prefix: a Windows drive whose files the test can read back from Linux. */
export class DriveC {
  constructor(private readonly prefix: string) {}
  /** A fresh folder under C:\azkvb-tests; returns both names of it. */
  fresh(label: string): { linux: string; windows: string } {
    const root = join(this.prefix, 'drive_c', 'azkvb-tests');
    mkdirSync(root, { recursive: true });
    const linux = mkdtempSync(join(root, `${label}-`));
    return { linux, windows: `C:\\azkvb-tests\\${linux.slice(root.length + 1)}` };
  }
  linuxPath(windowsPath: string): string {
    const m = /^C:\\(.*)$/i.exec(windowsPath);
    if (!m) throw new Error(`${windowsPath} is not on C:`);
    return join(this.prefix, 'drive_c', ...m[1]!.split('\\').filter(Boolean));
  }
}

/** Unpacks a release zip into a folder, as a user's unzip would (the zip's root is the module folder). */
export async function unzipRelease(flavour: string, into: string): Promise<string> {
  const zip = join(releaseDir(), `${MODULE_NAME}-${packageVersion()}-${flavour}.zip`);
  for (const entry of await listZip(zip)) {
    if (entry.name.endsWith('/')) continue;
    const target = join(into, ...entry.name.split('/'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, await entry.data());
  }
  return join(into, MODULE_NAME);
}

// Imports the module by name (from the PSModulePath folder the test installed the zip into), runs
// the test script with every stream merged into the pipeline and writes the records as JSON, the
// same shape as test/pwsh/run-pwsh.ts returns, so host chatter can never corrupt a result.
const WRAPPER = String.raw`
param([string]$ResultPath, [string]$ScriptPath, [string]$ModulesDir)
$ErrorActionPreference = 'Continue'
$ProgressPreference = 'SilentlyContinue'
$PSStyle.OutputRendering = 'PlainText'
${RECORD_SORTER}
try {
    $env:PSModulePath = $ModulesDir + [System.IO.Path]::PathSeparator + $env:PSModulePath
    Import-Module ${MODULE_NAME} -ErrorAction Stop
    & $ScriptPath *>&1 | ForEach-Object { Add-Record $_ }
}
catch { Add-Record $_ }
${RESULT_WRITER}
`;

/** Single-quotes a word for sh. */
function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export interface WindowsRun extends PwshRun {
  ms: number;
}

/**
 * PowerShell for Windows under Wine, one wineserver for the whole suite. ConsoleHost needs a
 * console, so `script` gives pwsh a pty on stdin only; stdout and stderr go to files.
 */
export class WindowsPwsh {
  private readonly env: NodeJS.ProcessEnv;

  constructor(readonly host: WindowsHost, readonly modulesDir: string) {
    this.env = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: process.env['HOME'] ?? tmpdir(),
      LANG: 'C.UTF-8',
      WINEPREFIX: host.prefix,
      WINEDEBUG: '-all',
      NO_COLOR: '1',
      POWERSHELL_TELEMETRY_OPTOUT: '1',
      POWERSHELL_UPDATECHECK: 'Off',
      POWERSHELL_CLI_TELEMETRY_OPTOUT: '1',
      DOTNET_CLI_TELEMETRY_OPTOUT: '1',
      DOTNET_EnableWriteXorExecute: '0',
    };
  }

  /** Keeps one wineserver alive across the suite's pwsh starts (saves about 2 s per exit). */
  startServer(): void {
    // Leftovers of a killed run in this suite's own prefix would hold the old server.
    this.stopServer();
    const r = spawnSync(this.host.wineserver, ['-p'], { env: this.env, stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`wineserver -p exited with ${r.status ?? r.signal}`);
  }

  /** Ends every process of the prefix and its wineserver. */
  stopServer(): void {
    spawnSync(this.host.wineserver, ['-k'], { env: this.env, stdio: 'ignore', timeout: 30_000 });
    spawnSync(this.host.wineserver, ['-w'], { env: this.env, stdio: 'ignore', timeout: 30_000 });
  }

  /** Linux process ids of Windows programs with this image name running in the prefix. */
  running(imageName: string): number[] {
    const r = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
    return r.stdout
      .split('\n')
      .filter((l) => l.toLowerCase().includes(imageName.toLowerCase()) && !l.includes('pwsh.exe'))
      .map((l) => Number.parseInt(l.trim(), 10))
      .filter((pid) => Number.isFinite(pid));
  }

  async run(script: string, options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<WindowsRun> {
    const work = mkdtempSync(join(tmpdir(), 'azkvb-winpwsh-'));
    try {
      const wrapper = join(work, 'wrapper.ps1');
      const scriptFile = join(work, 'script.ps1');
      const resultFile = join(work, 'result.json');
      const stdoutFile = join(work, 'stdout.txt');
      const stderrFile = join(work, 'stderr.txt');
      writeFileSync(wrapper, WRAPPER);
      writeFileSync(scriptFile, script);
      const argv = [this.host.wine, this.host.pwshExe, '-NoProfile', '-NonInteractive', '-File', zPath(wrapper), '-ResultPath', zPath(resultFile), '-ScriptPath', zPath(scriptFile), '-ModulesDir', this.modulesDir];
      const command = `${argv.map(shQuote).join(' ')} >${shQuote(stdoutFile)} 2>${shQuote(stderrFile)}`;
      const started = Date.now();
      // stdin an open pipe, as `script` has always had it: script hands it on to pwsh's pty.
      const { code } = await runProcess('script', ['-qefc', command, '/dev/null'], {
        cwd: options.cwd ?? work,
        env: { ...this.env, ...options.env },
        stdin: 'open',
        capture: 'none',
        timeoutMs: options.timeoutMs ?? 90_000,
        // The pty wrapper's death leaves the Wine processes holding on: end them with the prefix.
        beforeKill: () => spawnSync(this.host.wineserver, ['-k'], { env: this.env, stdio: 'ignore' }),
      });
      const ms = Date.now() - started;
      const read = (f: string) => {
        try {
          return readFileSync(f, 'utf8');
        } catch {
          return '';
        }
      };
      // Every Wine start says it cannot read the Z: volume's label; that line is not the program's.
      const stderr = read(stderrFile)
        .split('\n')
        .filter((l) => !/^wine: Read access denied for device/.test(l))
        .join('\n');
      const hostOutput = read(stdoutFile);
      let parsed: Omit<PwshRun, 'hostOutput' | 'stderr' | 'code'>;
      try {
        parsed = JSON.parse(read(resultFile).replace(/^\uFEFF/, '')) as typeof parsed;
      } catch (error) {
        throw new Error(`Windows pwsh left no result (exit ${code}, ${ms} ms): ${(error as Error).message}\nstdout: ${hostOutput.slice(-3000)}\nstderr: ${stderr.slice(-3000)}`);
      }
      return { ...parsed, hostOutput, stderr, code, ms };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
}
