// Runs the other platforms' builds on a linux-x64 machine: win-x64 under Wine, linux-arm64 under
// qemu-user (--version, the serve handshake and a real backup against the local vault), and checks the macOS builds' structure (nothing here can run them). Not part of
// `npm test`: it needs Debian packages wine64, qemu-user-static, libc6-arm64-cross and
// libstdc++6-arm64-cross. Build first with `npm run build:all`.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
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

// The local vault runs in its own process: every run below blocks this one's event loop.
async function startLocalVault() {
  const cli = path.join(repoRoot, 'out', 'test', 'support', 'local-vault', 'cli.js');
  if (!existsSync(cli)) {
    const tsc = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: repoRoot, stdio: 'inherit' });
    if (tsc.status !== 0) throw new Error('tsc failed');
  }
  const child = spawn(process.execPath, [cli, '--secret', 'smoke/hello=from the local vault'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const info = await new Promise((resolve, reject) => {
    let text = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      text += d;
      if (text.includes('\n')) resolve(JSON.parse(text.split('\n')[0]));
    });
    child.on('error', reject);
    child.on('close', (code) => reject(new Error(`local vault exited with ${code}`)));
  });
  return { info, stop: () => child.stdin.end() };
}

const BACKUP_PREFIX = ')AzureKeyVaultSecretBackupV1.microsoft.com';

// A real backup through the build: HTTPS with the local CA, the Key Vault challenge, a
// managed-identity token, an atomic write. `native` turns a path into the program's own form.
function backup(rid, cmd, args, env, native = (p) => p) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `azkvb-smoke-${rid}-`));
  try {
    const runEnv = {
      ...env,
      NODE_EXTRA_CA_CERTS: native(vault.info.caFile),
      AZ_KEYVAULT_BACKUP_VAULT_URL: vault.info.vaultUrlTemplate,
      IDENTITY_ENDPOINT: vault.info.identityEndpoint,
      IDENTITY_HEADER: vault.info.identityHeader,
    };
    const r = runToFiles(cmd, [...args, 'backup', '--vault-name', 'smoke', '--name', 'hello', '-d', native(dir)], runEnv);
    const written = readdirSync(dir);
    const bytes = written.length === 1 ? readFileSync(path.join(dir, written[0])) : Buffer.alloc(0);
    const ok = !r.error && r.status === 0 && written.length === 1 && r.stdout.trim() === native(path.join(dir, written[0])) && bytes.subarray(0, BACKUP_PREFIX.length).toString('latin1') === BACKUP_PREFIX;
    return ok ? `backup ${r.ms} ms (${bytes.length} bytes)` : `backup: ${failure(r)}, files ${JSON.stringify(written)}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// --version, the serve handshake the PowerShell module performs (hello ... end -> bye), then a
// real backup against the local vault.
function check(rid, cmd, args, env = process.env, native = undefined) {
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
  if (!ok) return record(rid, false, `serve: ${failure(s)}`);
  const b = backup(rid, cmd, args, env, native);
  record(rid, b.startsWith('backup '), `--version ${v.ms} ms, serve handshake ${s.ms} ms, ${b}`);
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
  // Wine shows the Linux file system as drive Z:.
  check('win-x64', wine, [exe], env, (p) => `Z:${p.replace(/\//g, '\\')}`);
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

const vault = await startLocalVault();
try {
  winX64();
  linuxArm64();
} finally {
  vault.stop();
}
darwin('darwin-x64');
darwin('darwin-arm64');
process.exitCode = results.every((r) => r.ok) ? 0 : 1;
