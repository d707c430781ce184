// Runs the other platforms' builds on a linux-x64 machine: win-x64 under Wine, linux-arm64 under
// qemu-user, and checks the macOS builds' structure (nothing here can run them). Not part of
// `npm test`: it needs Debian packages wine64, qemu-user-static, libc6-arm64-cross and
// libstdc++6-arm64-cross. Build first with `npm run build:all`.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exePath } from './build.mjs';
import { repoRoot } from './node-runtime.mjs';
import { packageVersion } from './sync-manifest.mjs';

const version = packageVersion();
const results = [];

function which(name) {
  const result = spawnSync('which', [name], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

function record(rid, ok, detail) {
  results.push({ rid, ok, detail });
  process.stderr.write(`[smoke-cross] ${rid}: ${ok ? 'ok' : 'FAILED'} ${detail}\n`);
}

// Wine hands a pipe to the program as an invalid handle (Node fails with EBADF), so output goes
// through files.
function runToFiles(cmd, args, env, input = '') {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'azkvb-smoke-'));
  try {
    const inFile = path.join(dir, 'in');
    writeFileSync(inFile, input);
    const stdin = openSync(inFile, 'r');
    const outFile = path.join(dir, 'out');
    const errFile = path.join(dir, 'err');
    const out = openSync(outFile, 'w');
    const err = openSync(errFile, 'w');
    const started = Date.now();
    const result = spawnSync(cmd, args, { stdio: [stdin, out, err], env, timeout: 120_000 });
    closeSync(stdin);
    closeSync(out);
    closeSync(err);
    return {
      status: result.status,
      error: result.error,
      ms: Date.now() - started,
      stdout: readFileSync(outFile, 'utf8'),
      stderr: readFileSync(errFile, 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function failure(result) {
  return `exit ${result.status ?? result.error?.message}, stdout ${JSON.stringify(result.stdout.slice(0, 300))}, stderr ${JSON.stringify(result.stderr.slice(0, 500))}`;
}

// --version, then the serve handshake the PowerShell module performs (hello ... end -> bye).
function check(rid, cmd, args, env = process.env) {
  const v = runToFiles(cmd, [...args, '--version'], env);
  if (v.error || v.status !== 0 || v.stdout.trim() !== version) return record(rid, false, `--version: ${failure(v)}`);
  const input = `${JSON.stringify({ type: 'hello', protocol: 1, client: 'smoke-cross' })}\n${JSON.stringify({ type: 'end' })}\n`;
  const s = runToFiles(cmd, [...args, 'serve'], env, input);
  const lines = s.stdout.split('\n').filter(Boolean).map((line) => {
    try {
      return JSON.parse(line);
    } catch {
      return undefined;
    }
  });
  const ok = !s.error && s.status === 0 && lines[0]?.type === 'hello' && lines[0]?.version === version && lines.at(-1)?.type === 'bye';
  record(rid, ok, ok ? `--version ${v.ms} ms, serve handshake ${s.ms} ms` : `serve: ${failure(s)}`);
}

function winX64() {
  const exe = exePath('win-x64');
  if (!existsSync(exe)) return record('win-x64', false, `${exe} not built`);
  const wine = ['/usr/lib/wine/wine64', which('wine64'), which('wine')].find((p) => p && existsSync(p));
  if (!wine) return record('win-x64', false, 'wine not found (apt-get install wine64)');
  // A private prefix set to Windows 10: Node 22 refuses older Windows versions.
  const prefix = path.join(repoRoot, '.cache', 'wine');
  const env = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' };
  if (!existsSync(path.join(prefix, 'system.reg'))) {
    mkdirSync(prefix, { recursive: true });
    process.stderr.write('[smoke-cross] creating the Wine prefix (once) ...\n');
    runToFiles(wine, ['wineboot', '--init'], env);
    runToFiles(wine, ['winecfg', '-v', 'win10'], env);
  }
  check('win-x64', wine, [exe], env);
}

function linuxArm64() {
  const exe = exePath('linux-arm64');
  if (!existsSync(exe)) return record('linux-arm64', false, `${exe} not built`);
  const qemu = which('qemu-aarch64-static') ?? which('qemu-aarch64');
  if (!qemu) return record('linux-arm64', false, 'qemu-aarch64-static not found (apt-get install qemu-user-static)');
  const sysroot = '/usr/aarch64-linux-gnu';
  if (!existsSync(path.join(sysroot, 'lib', 'ld-linux-aarch64.so.1'))) {
    return record('linux-arm64', false, `${sysroot} missing (apt-get install libc6-arm64-cross libstdc++6-arm64-cross)`);
  }
  check('linux-arm64', qemu, ['-L', sysroot, exe]);
}

// A Mach-O's load commands sit in its first pages; the injected segment must be named there.
function darwin(rid) {
  const exe = exePath(rid);
  if (!existsSync(exe)) return record(rid, false, `${exe} not built`);
  const fd = openSync(exe, 'r');
  const head = Buffer.alloc(64 * 1024);
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const magic = head.readUInt32LE(0);
  const hasSegment = head.includes(Buffer.from('NODE_SEA\0'));
  const ok = magic === 0xfeedfacf && hasSegment;
  record(rid, ok, ok ? 'Mach-O 64 with a NODE_SEA segment (structure only; not runnable here)' : `magic ${magic.toString(16)}, NODE_SEA segment ${hasSegment}`);
}

winX64();
linuxArm64();
darwin('darwin-x64');
darwin('darwin-arm64');
process.exitCode = results.every((r) => r.ok) ? 0 : 1;
