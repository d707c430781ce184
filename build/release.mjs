// `npm run release`: builds the five executables and lays out dist/release/:
//   <rid>/Az.KeyVault.Backup/            one module folder per platform, that platform's executable only
//   all/Az.KeyVault.Backup/              all five platforms, for a single download (and the Gallery)
//   Az.KeyVault.Backup-<v>-<rid>.zip     each folder zipped, the module folder at the zip's root
//   Az.KeyVault.Backup-<v>-all.zip
//   SHA256SUMS                           sha256sum -c compatible, over the zips and the notes
//   RELEASE-NOTES.md
// Options: --skip-build (package the executables already in bin/), --out <dir>.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, checkExecutable, exePath } from './build.mjs';
import { ensureDebianPackages } from './ensure-tools.mjs';
import { ALL_RIDS, hostRid, NODE_VERSION, repoRoot } from './node-runtime.mjs';
import { packageVersion, syncManifest } from './sync-manifest.mjs';
import { BUILT_MODULE_DIR, SHIPPED_FILES, writeModule } from './module.mjs';
import { prepareEntry, withDirectories, writeZip } from './zip.mjs';

export const MODULE_NAME = 'Az.KeyVault.Backup';
export const RELEASE_DIR = path.join(repoRoot, 'dist', 'release');

// Source file -> path inside the module folder. The about topic goes where Get-Help looks for it;
// the psm1 and the public function's 7.3+ form are the build's join of src/module (module.mjs).
const MODULE_FILES = [
  ['Az.KeyVault.Backup.psd1', 'Az.KeyVault.Backup.psd1'],
  ...SHIPPED_FILES.map((name) => [path.relative(repoRoot, path.join(BUILT_MODULE_DIR, ...name.split('/'))), path.join(...name.split('/'))]),
  ['LICENSE', 'LICENSE'],
  ['CHANGELOG.md', 'CHANGELOG.md'],
  [path.join('docs', 'about_Az.KeyVault.Backup.help.txt'), path.join('en-US', 'about_Az.KeyVault.Backup.help.txt')],
];

const PLATFORM_NOTES = {
  'win-x64': 'Windows 10+ / Server 2016+ on x64, and Windows 11 on Arm through x64 emulation. Unsigned (the Node binary\'s own signature is removed, since injecting the program invalidates it).',
  'linux-x64': 'glibc 2.28+ (Debian 10+, Ubuntu 20.04+, RHEL 8+), x64.',
  'linux-arm64': 'glibc 2.28+, arm64.',
  'darwin-x64': 'macOS 11+ on Intel. Unsigned: remove the quarantine flag if the zip was downloaded with a browser.',
  'darwin-arm64': 'macOS 11+ on Apple Silicon. Unsigned: Apple Silicon refuses to start it until it is signed once, ad hoc, on the Mac (below).',
};

function log(message) {
  process.stderr.write(`[release] ${message}\n`);
}

export function zipName(version, flavour) {
  return `${MODULE_NAME}-${version}-${flavour}.zip`;
}

// The commit's time, so two builds of one commit produce byte-identical zips.
function sourceDate() {
  const fromEnv = Number(process.env.SOURCE_DATE_EPOCH);
  if (Number.isFinite(fromEnv) && fromEnv > 0) return new Date(fromEnv * 1000);
  try {
    const seconds = Number(execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    if (Number.isFinite(seconds) && seconds > 0) return new Date(seconds * 1000);
  } catch {
    // not a git checkout: a fixed date is still reproducible
  }
  return new Date(Date.UTC(2026, 0, 1));
}

function stageModule(folder, rids) {
  const files = [];
  const place = (from, target, mode) => {
    const to = path.join(folder, target);
    mkdirSync(path.dirname(to), { recursive: true });
    copyFileSync(from, to);
    chmodSync(to, mode);
    files.push({ source: from, name: target.split(path.sep).join('/'), mode });
  };
  for (const [source, target] of MODULE_FILES) {
    const from = path.join(repoRoot, source);
    if (!existsSync(from)) throw new Error(`${source} is missing; it belongs in every package`);
    place(from, target, 0o644);
  }
  for (const rid of rids) {
    const exe = exePath(rid);
    if (!existsSync(exe)) throw new Error(`${path.relative(repoRoot, exe)} is missing: build it (npm run build:all) or drop --skip-build`);
    place(exe, path.join('bin', rid, path.basename(exe)), 0o755);
  }
  return files;
}

// A release killed midway leaves its staging or set-aside folder (a gigabyte each) under another pid.
function removeLeftovers(out) {
  const parent = path.dirname(out);
  if (!existsSync(parent)) return;
  const base = path.basename(out);
  for (const name of readdirSync(parent)) {
    if (/^\.(partial|old)-\d+$/.test(name.slice(base.length)) && name.startsWith(base)) {
      log(`removing ${name}, left by an interrupted release`);
      rmSync(path.join(parent, name), { recursive: true, force: true });
    }
  }
}

function changelogSection(version) {
  const text = readFileSync(path.join(repoRoot, 'CHANGELOG.md'), 'utf8');
  const start = text.search(new RegExp(`^## \\[${version.replace(/\./g, '\\.')}\\]`, 'm'));
  if (start < 0) throw new Error(`CHANGELOG.md has no section for ${version}; add "## [${version}] - <date>" before releasing`);
  const rest = text.slice(start);
  const next = rest.slice(3).search(/^## \[/m);
  return (next < 0 ? rest : rest.slice(0, next + 3)).trim();
}

function releaseNotes(version, packages) {
  const rows = packages.map((p) => `| ${p.flavour} | \`${p.zip}\` | ${(p.bytes / 1e6).toFixed(1)} MB | ${p.flavour === 'all' ? 'all five platforms; the psm1 picks the one it runs on' : PLATFORM_NOTES[p.flavour]} |`);
  return `# ${MODULE_NAME} ${version}

Executables: Node ${NODE_VERSION} single-executable applications; no Node, npm or Az module is
needed on the machine that runs them.

| platform | package | size | notes |
|---|---|---|---|
${rows.join('\n')}

## Installing

Extract one zip into a folder on \`$env:PSModulePath\`; the zip's root folder is the module's:

\`\`\`powershell
$modules = ($env:PSModulePath -split [IO.Path]::PathSeparator)[0]
Expand-Archive ./${zipName(version, '<rid>')} -DestinationPath $modules
Import-Module ${MODULE_NAME}
Get-Help about_${MODULE_NAME}
\`\`\`

Check the download first: \`sha256sum -c SHA256SUMS --ignore-missing\` (or
\`(Get-FileHash ./<zip>).Hash\` against the line in \`SHA256SUMS\`).

## macOS: the executables are not signed

Injecting the program into the Node binary removes Apple's signature, and no tool available to
the Linux build can sign a Mach-O file. **Apple Silicon (darwin-arm64) refuses to start an unsigned
binary**, so sign it once, ad hoc, on the Mac after extracting:

\`\`\`sh
codesign --sign - "<module folder>/bin/darwin-arm64/az-keyvault-backup"
xattr -d com.apple.quarantine "<module folder>/bin/darwin-arm64/az-keyvault-backup" 2>/dev/null || true
\`\`\`

On Intel Macs (darwin-x64) only the quarantine flag of a browser download needs removing (the
\`xattr\` line). The module's error for an executable the system refused repeats these commands.

## Windows: the executable is not signed

The official Node binary's Authenticode signature would be invalid after injection, so it is
removed cleanly; the exe is unsigned, and so are the psm1 and psd1. A zip downloaded with a browser
is marked as from the internet, and under the \`RemoteSigned\` execution policy PowerShell then
refuses to load the module; unblock the zip before extracting it (\`Unblock-File ./<zip>\`), or
the extracted files (\`Get-ChildItem -Recurse <module folder> | Unblock-File\`). Windows
PowerShell 5.1's default policy on client Windows, \`Restricted\`, runs no module at all:
\`Set-ExecutionPolicy -Scope CurrentUser RemoteSigned\`.

${changelogSection(version).replace(/^## /, '## Changes in ')}
`;
}

function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

export async function release(argv = []) {
  const options = { skipBuild: false, out: RELEASE_DIR };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--skip-build') options.skipBuild = true;
    else if (argv[i] === '--out' && argv[i + 1]) options.out = path.resolve(argv[++i]);
    else throw new Error(`unknown argument ${argv[i]} (expected --skip-build, --out <dir>)`);
  }
  const started = Date.now();
  syncManifest();
  writeModule();
  const version = packageVersion();
  if (options.skipBuild) {
    // build() checks the native executable itself; one that was built earlier is checked here.
    checkExecutable(exePath(hostRid()));
  } else {
    ensureDebianPackages(['release']);
    await build(['--all']);
  }

  // Staged in a sibling folder and swapped in at the end: a failed release leaves the previous
  // one whole rather than half-replaced.
  const out = options.out;
  removeLeftovers(out);
  const staging = `${out}.partial-${process.pid}`;
  const previous = `${out}.old-${process.pid}`;
  mkdirSync(staging, { recursive: true });
  try {
    const mtime = sourceDate();
    const prepared = new Map();
    const entryFor = (file) => {
      const key = `${file.source}\0${file.name}`;
      if (!prepared.has(key)) prepared.set(key, prepareEntry(`${MODULE_NAME}/${file.name}`, readFileSync(file.source), { mode: file.mode }));
      return prepared.get(key);
    };
    const flavours = [...ALL_RIDS.map((rid) => ({ flavour: rid, rids: [rid] })), { flavour: 'all', rids: ALL_RIDS }];
    // Every zip is started before any is awaited, so the executables deflate in parallel on
    // libuv's thread pool (yazl deflates an entry as it is added; the all-platform zip shares the
    // files' bytes with the per-platform ones, but deflates them again). All finish before a
    // failure cleans up.
    const written = await Promise.allSettled(flavours.map(async ({ flavour, rids }) => {
      const entries = withDirectories(stageModule(path.join(staging, flavour, MODULE_NAME), rids).map(entryFor));
      const zip = zipName(version, flavour);
      return { flavour, zip, bytes: await writeZip(path.join(staging, zip), entries, { mtime }), count: entries.length };
    }));
    const failed = written.find((w) => w.status === 'rejected');
    if (failed) throw failed.reason;
    const packages = written.map((w) => w.value);
    for (const p of packages) log(`${p.zip}: ${(p.bytes / 1e6).toFixed(1)} MB, ${p.count} entries`);
    writeFileSync(path.join(staging, 'RELEASE-NOTES.md'), releaseNotes(version, packages));
    const listed = [...packages.map((p) => p.zip), 'RELEASE-NOTES.md'];
    writeFileSync(path.join(staging, 'SHA256SUMS'), listed.map((name) => `${sha256(path.join(staging, name))}  ${name}\n`).join(''));

    if (existsSync(out)) renameSync(out, previous);
    renameSync(staging, out);
    rmSync(previous, { recursive: true, force: true });
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(out) && existsSync(previous)) renameSync(previous, out);
    throw error;
  }
  const listing = readdirSync(out).filter((n) => statSync(path.join(out, n)).isFile());
  log(`${path.relative(repoRoot, out)}: ${listing.join(', ')}`);
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { dir: out, version };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  release(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`[release] failed: ${error.message}\n`);
    process.exitCode = 1;
  });
}
