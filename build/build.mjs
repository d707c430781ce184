// Builds az-keyvault-backup: one esbuild bundle, then a Node single-executable (SEA) per rid.
//   node build/build.mjs                 native rid only
//   node build/build.mjs --all           all five rids
//   node build/build.mjs --rid win-x64   (repeatable)
//   --entry <file.ts>  bundle another entry (default src/cli/main.ts)
//   --bundle-only      stop after dist/az-keyvault-backup.cjs
//   --no-minify        readable bundle, for debugging a stack trace
//   --no-strip         keep the linux binaries' symbols
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALL_RIDS, ensureNode, exeName, hostRid, repoRoot } from './node-runtime.mjs';
import { writeModule } from './module.mjs';
import { packageVersion, syncManifest } from './sync-manifest.mjs';

export const BUNDLE = path.join(repoRoot, 'dist', 'az-keyvault-backup.cjs');
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

function log(message) {
  process.stderr.write(`[build] ${message}\n`);
}

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { encoding: 'utf8', ...options });
  if (result.error) throw new Error(`${cmd}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} exited with ${result.status ?? result.signal}\n${result.stdout ?? ''}${result.stderr ?? ''}`);
  }
  return result;
}

function which(name) {
  const result = spawnSync(process.platform === 'win32' ? 'where' : 'which', [name], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.split(/\r?\n/)[0].trim() : undefined;
}

export function exePath(rid) {
  return path.join(repoRoot, 'bin', rid, exeName(rid, 'az-keyvault-backup'));
}

export async function bundle({ entry = path.join(repoRoot, 'src', 'cli', 'main.ts'), minify = true, outfile = BUNDLE } = {}) {
  const esbuild = await import('esbuild');
  const version = packageVersion();
  const started = Date.now();
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node22',
    minify,
    // yargs 18 is ESM-only and builds a require from import.meta.url, which esbuild leaves empty
    // in CommonJS output; in a SEA __filename is the executable's path, which is what yargs wants.
    banner: { js: 'const __azkvb_import_meta_url = require("url").pathToFileURL(__filename).href;' },
    define: {
      'import.meta.url': '__azkvb_import_meta_url',
      __AZKVB_VERSION__: JSON.stringify(version),
    },
    // debug's optional require('supports-color') would make a SEA warn about loading from disk.
    alias: { 'supports-color': path.join(repoRoot, 'build', 'empty-module.cjs') },
    // Lets an entry outside the repo (a scratch file) resolve the repo's packages.
    nodePaths: [path.join(repoRoot, 'node_modules')],
    logLevel: 'warning',
    legalComments: 'eof',
  });
  log(`bundled ${path.relative(repoRoot, entry)} -> ${path.relative(repoRoot, outfile)} (${(statSync(outfile).size / 1024).toFixed(0)} KiB, ${Date.now() - started} ms)`);
  return outfile;
}

// --version must not pay for the Azure SDK; the source imports it lazily and esbuild keeps such
// imports lazy only if nothing imports the SDK eagerly. Checked on the bundle with a probe.
export function checkBundle(node, bundlePath = BUNDLE) {
  const probe = path.join(repoRoot, 'build', 'sdk-load-probe.cjs');
  const result = run(node, ['-r', probe, bundlePath, '--version']);
  const version = packageVersion();
  if (result.stdout.trim() !== version) {
    throw new Error(`bundle --version printed ${JSON.stringify(result.stdout.trim())}, expected ${version}\n${result.stderr}`);
  }
  if (result.stderr.includes('AZKVB_PROBE_SDK_EVALUATED')) {
    throw new Error('bundle --version evaluated the Azure SDK: something imports @azure/* eagerly (use `import type` and a dynamic import())');
  }
  const rest = result.stderr.trim();
  if (rest) throw new Error(`bundle --version wrote to stderr:\n${rest}`);
}

function stripper(rid) {
  if (!rid.startsWith('linux-')) return undefined;
  const targetArch = rid === 'linux-arm64' ? 'aarch64' : 'x86_64';
  const hostArch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
  const found = which('llvm-strip') ?? which(`${targetArch}-linux-gnu-strip`);
  if (found) return found;
  return process.platform === 'linux' && targetArch === hostArch ? which('strip') : undefined;
}

// Writes a temp file beside `file` and renames it over, so a failed build never leaves a
// half-injected executable where tests or a package step would pick it up.
export function buildSea(rid, { bundlePath = BUNDLE, strip = true } = {}) {
  const started = Date.now();
  const host = hostRid();
  const hostNode = ensureNode(host);
  const targetNode = ensureNode(rid);
  const work = path.join(repoRoot, '.cache', 'sea', rid);
  mkdirSync(work, { recursive: true });

  // A code cache is V8-build and platform specific: made here it is rejected (with a warning) on
  // another OS, so only the build machine's own rid gets one. Snapshots crash with the Azure SDK.
  const config = path.join(work, 'sea-config.json');
  const blob = path.join(work, 'sea-prep.blob');
  writeFileSync(config, `${JSON.stringify({
    main: bundlePath,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: rid === host,
    useSnapshot: false,
  }, null, 2)}\n`);
  run(hostNode, ['--experimental-sea-config', config], { cwd: work });

  const out = exePath(rid);
  mkdirSync(path.dirname(out), { recursive: true });
  const temp = `${out}.partial-${process.pid}`;
  rmSync(temp, { force: true });
  try {
    if (rid.startsWith('win-')) {
      // Injection invalidates the official Authenticode signature; an unsigned exe is honest,
      // a broken signature makes Windows treat the file as tampered with.
      const osslsigncode = which('osslsigncode');
      if (!osslsigncode) throw new Error('osslsigncode is needed for win-x64 (Debian: apt-get install osslsigncode)');
      run(osslsigncode, ['remove-signature', '-in', targetNode, '-out', temp]);
    } else {
      copyFileSync(targetNode, temp);
    }
    chmodSync(temp, 0o755);

    let stripped = false;
    const stripTool = strip ? stripper(rid) : undefined;
    if (stripTool) {
      // Only symbols and debug info go; .dynsym stays, so native addons still link against node.
      run(stripTool, ['--strip-all', temp]);
      stripped = true;
    }

    const postject = path.join(repoRoot, 'node_modules', 'postject', 'dist', 'cli.js');
    const args = [postject, temp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE];
    if (rid.startsWith('darwin-')) args.push('--macho-segment-name', 'NODE_SEA');
    run(process.execPath, args);
    chmodSync(temp, 0o755);
    renameSync(temp, out);
    const mb = (statSync(out).size / 1e6).toFixed(1);
    log(`${rid}: ${path.relative(repoRoot, out)} ${mb} MB${stripped ? ' (stripped)' : ''}${rid === host ? ' (code cache)' : ''}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    rmSync(temp, { force: true });
  }
  return out;
}

// The native executable must start, print the version and nothing else: a stray SEA warning
// on stderr would reach the PowerShell module as a diagnostic line it cannot parse.
export function checkExecutable(exe) {
  const result = run(exe, ['--version']);
  const version = packageVersion();
  if (result.stdout.trim() !== version || result.stderr.trim()) {
    throw new Error(`${exe} --version: stdout ${JSON.stringify(result.stdout)}, stderr ${JSON.stringify(result.stderr)}`);
  }
}

function parseArgs(argv) {
  const options = { rids: [], all: false, entry: undefined, bundleOnly: false, minify: true, strip: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--all') options.all = true;
    else if (arg === '--rid') options.rids.push(value());
    else if (arg === '--entry') options.entry = path.resolve(value());
    else if (arg === '--bundle-only') options.bundleOnly = true;
    else if (arg === '--no-minify') options.minify = false;
    else if (arg === '--no-strip') options.strip = false;
    else throw new Error(`unknown argument ${arg}`);
  }
  for (const rid of options.rids) {
    if (!ALL_RIDS.includes(rid)) throw new Error(`unknown rid ${rid}; expected one of ${ALL_RIDS.join(', ')}`);
  }
  return options;
}

export async function build(argv = []) {
  const options = parseArgs(argv);
  const started = Date.now();
  syncManifest();
  // The shipped form of the module, which the bench and the release use.
  writeModule();
  const hostNode = ensureNode();
  const bundlePath = await bundle({ entry: options.entry, minify: options.minify });
  checkBundle(hostNode, bundlePath);
  if (options.bundleOnly) return [];
  const rids = options.all ? ALL_RIDS : options.rids.length ? options.rids : [hostRid()];
  const outputs = [];
  for (const rid of rids) {
    const exe = buildSea(rid, { bundlePath, strip: options.strip });
    if (rid === hostRid()) checkExecutable(exe);
    outputs.push(exe);
  }
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return outputs;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  build(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`[build] failed: ${error.message}\n`);
    process.exitCode = 1;
  });
}
