// How the benchmark runs its programs: asynchronously, collecting output, each tracked in the
// caller's `children` set so that an interrupted run can end them all.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
import { writeModule } from '../build/module.mjs';
import { performance } from 'node:perf_hooks';

/** Spawns, feeds `input` (or nothing) to stdin and resolves with the exit code, output and time taken. */
export function runProcess(cmd, args, { env, input, timeoutMs = 600_000, onSpawn, children }) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
    onSpawn?.(child);
    child.stdin.end(input ?? '');
  });
}

/**
 * Runs one scenario with what every scenario needs: a set of the programs it started (ended when
 * it returns or fails) and temporary folders (removed then too).
 */
export async function inScratch(fn) {
  const children = new Set();
  const scratch = [];
  const tempDir = (label) => {
    const dir = mkdtempSync(path.join(tmpdir(), `azkvb-bench-${label}-`));
    scratch.push(dir);
    return dir;
  };
  try {
    return await fn({ children, tempDir });
  } finally {
    for (const child of children) child.kill('SIGTERM');
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The files a pwsh scenario runs from, in folders of `tempDir`: its script (`script` gets the
 * definitions of Az's secret types to put in it) and the vault's secret names as JSON. `outRoot`
 * is a folder for the backups.
 */
export async function pwshScenarioFiles(tempDir, label, names, script) {
  const { DEFINE_AZ_TYPES } = await import(pathToFileURL(path.join(repoRoot, 'out', 'test', 'pwsh', 'az-types.js')).href);
  const work = tempDir(label);
  const namesFile = path.join(work, 'names.json');
  writeFileSync(namesFile, JSON.stringify(names));
  const scriptFile = path.join(work, `${label}.ps1`);
  writeFileSync(scriptFile, script(DEFINE_AZ_TYPES));
  return { script: scriptFile, namesFile, outRoot: tempDir(`${label}-out`), module: shippedModule(tempDir) };
}

/**
 * The module as it ships, in a folder of `tempDir`: the manifest, the build's join of src/module
 * and the repository's bin/. What users import, rather than the development loader that
 * dot-sources the source files. Returns the manifest's path.
 */
export function shippedModule(tempDir) {
  const dir = tempDir('module');
  copyFileSync(path.join(repoRoot, 'Az.KeyVault.Backup.psd1'), path.join(dir, 'Az.KeyVault.Backup.psd1'));
  writeModule(dir);
  symlinkSync(path.join(repoRoot, 'bin'), path.join(dir, 'bin'));
  return path.join(dir, 'Az.KeyVault.Backup.psd1');
}
