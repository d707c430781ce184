import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { repoRoot } from '../support/paths.js';
import { exeName, listZip, MODULE_NAME, packagedExe, packageVersion, releaseDir, RIDS, runCaptured, type ZipEntry } from './support.js';

const FLAVOURS = [...RIDS, 'all'] as const;
const zipFor = (flavour: string): string => `${MODULE_NAME}-${packageVersion()}-${flavour}.zip`;

// Repository file -> where it sits in every package.
const COMMON: Record<string, string> = {
  'Az.KeyVault.Backup.psd1': 'Az.KeyVault.Backup.psd1',
  // The build's join of src/module, written where the release takes it from: the psm1 and each
  // public function's 7.3+ form.
  'out/module/Az.KeyVault.Backup.psm1': 'Az.KeyVault.Backup.psm1',
  ...Object.fromEntries(
    ['Backup-AzKeyVaultSecret', 'Backup-AzKeyVaultKey', 'Backup-AzKeyVaultCertificate', 'Restore-AzKeyVaultSecret', 'Restore-AzKeyVaultKey', 'Restore-AzKeyVaultCertificate'].map((name) => [
      `out/module/Public/${name}.ps1`,
      `Public/${name}.ps1`,
    ]),
  ),
  LICENSE: 'LICENSE',
  'CHANGELOG.md': 'CHANGELOG.md',
  'docs/about_Az.KeyVault.Backup.help.txt': 'en-US/about_Az.KeyVault.Backup.help.txt',
};

function expectedFiles(flavour: string): Map<string, string> {
  const files = new Map(Object.entries(COMMON).map(([source, target]) => [`${MODULE_NAME}/${target}`, join(repoRoot(), source)]));
  for (const rid of flavour === 'all' ? RIDS : [flavour]) {
    files.set(`${MODULE_NAME}/bin/${rid}/${exeName(rid)}`, join(repoRoot(), 'bin', rid, exeName(rid)));
  }
  return files;
}

describe('release: packages, checksums and one version everywhere', function () {
  let dir: string;
  const zips = new Map<string, ZipEntry[]>();

  before(async function () {
    dir = releaseDir();
    for (const flavour of FLAVOURS) zips.set(flavour, await listZip(join(dir, zipFor(flavour))));
  });

  it('holds a zip per platform, an all-platform zip, SHA256SUMS and release notes, and nothing else', function () {
    const files = readdirSync(dir).filter((n) => statSync(join(dir, n)).isFile()).sort();
    assert.deepEqual(files, [...FLAVOURS.map(zipFor), 'RELEASE-NOTES.md', 'SHA256SUMS'].sort());
    const folders = readdirSync(dir).filter((n) => statSync(join(dir, n)).isDirectory()).sort();
    assert.deepEqual(folders, [...FLAVOURS].sort(), 'the unzipped module folders, one per package');
  });

  for (const flavour of FLAVOURS) {
    it(`${zipFor('<rid>').replace('<rid>', flavour)}: the module folder at the root, ${flavour === 'all' ? 'all five executables' : "that platform's executable only"}, the same bytes as built`, async function () {
      const entries = zips.get(flavour)!;
      const files = entries.filter((e) => !e.name.endsWith('/'));
      const expected = expectedFiles(flavour);
      assert.deepEqual(files.map((e) => e.name).sort(), [...expected.keys()].sort());
      for (const e of files) {
        const source = readFileSync(expected.get(e.name)!);
        assert.equal(e.size, source.length, `${e.name} size`);
        assert.equal(e.crc, crc32(source), `${e.name} CRC`);
        assert.ok((await e.data()).equals(source), `${e.name} inflates to the repository's bytes`);
        const executable = e.name.includes('/bin/');
        assert.ok(e.madeByUnix, `${e.name} records Unix permissions`);
        assert.equal(e.mode, executable ? 0o100755 : 0o100644, `${e.name} mode ${e.mode.toString(8)}`);
      }
      for (const d of entries.filter((e) => e.name.endsWith('/'))) {
        assert.ok(d.name.startsWith(`${MODULE_NAME}/`) || d.name === `${MODULE_NAME}/`, d.name);
        assert.equal(d.mode, 0o40755, `${d.name} is a directory entry`);
      }
      // Every folder a file sits in has its own entry, in sorted order: deterministic archives.
      assert.deepEqual(entries.map((e) => e.name), [...entries.map((e) => e.name)].sort());
    });
  }

  it('SHA256SUMS lists every zip and the notes with their real SHA-256, in sha256sum -c format', function () {
    const lines = readFileSync(join(dir, 'SHA256SUMS'), 'utf8').trimEnd().split('\n');
    const listed = new Map(lines.map((l) => {
      const m = /^([0-9a-f]{64}) {2}(\S+)$/.exec(l);
      assert.ok(m, `line ${JSON.stringify(l)}`);
      return [m[2]!, m[1]!];
    }));
    assert.deepEqual([...listed.keys()].sort(), [...FLAVOURS.map(zipFor), 'RELEASE-NOTES.md'].sort());
    for (const [name, hash] of listed) {
      assert.equal(createHash('sha256').update(readFileSync(join(dir, name))).digest('hex'), hash, name);
    }
    const check = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dir, encoding: 'utf8' });
    if (!check.error) assert.equal(check.status, 0, check.stdout + check.stderr);
  });

  it('carries one version: package.json, every package\'s manifest, the zip names, --version and the handshake agree', async function () {
    const version = packageVersion();
    for (const flavour of FLAVOURS) {
      const psd1 = (await zips.get(flavour)!.find((e) => e.name === `${MODULE_NAME}/${MODULE_NAME}.psd1`)!.data()).toString('utf8');
      assert.match(psd1, new RegExp(`^\\s*ModuleVersion = '${version.replace(/\./g, '\\.')}'$`, 'm'), `${flavour}: the psd1's version`);
    }
    for (const flavour of FLAVOURS) assert.ok(readdirSync(dir).includes(`${MODULE_NAME}-${version}-${flavour}.zip`));
    const run = spawnSync(packagedExe('linux-x64'), ['--version'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), version);
    // The handshake is how the module learns it (a blocking run is fine: no vault is involved).
    const input = `${JSON.stringify({ type: 'hello', protocol: 3, client: 'release test' })}\n${JSON.stringify({ type: 'end' })}\n`;
    const serve = spawnSync(packagedExe('linux-x64'), ['serve'], { encoding: 'utf8', input, env: { PATH: '/usr/bin:/bin', HOME: tmpdir() } });
    assert.equal(serve.status, 0, serve.stderr);
    assert.deepEqual(serve.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown), [
      { type: 'hello', protocol: 3, version },
      { type: 'done', pipeline: 0, succeeded: 0, failed: 0 },
    ]);
  });

  it("release notes list every package and tell Apple Silicon users to sign the executable once", function () {
    const notes = readFileSync(join(dir, 'RELEASE-NOTES.md'), 'utf8');
    for (const flavour of FLAVOURS) assert.ok(notes.includes(zipFor(flavour)), zipFor(flavour));
    assert.match(notes, /codesign --sign - "<module folder>\/bin\/darwin-arm64\/az-keyvault-backup"/);
    assert.match(notes, /com\.apple\.quarantine/);
    assert.match(notes, new RegExp(`## Changes in \\[${packageVersion().replace(/\./g, '\\.')}\\]`));
  });

  it('is reproducible: packaging the same executables at the same commit again gives byte-identical zips', async function () {
    this.timeout(180_000);
    const again = mkdtempSync(join(tmpdir(), 'azkvb-release-again-'));
    try {
      // The same Node (and so the same zlib) that made the release under test.
      const node = process.env['AZKVB_BUILD_NODE'] ?? 'node';
      const r = await runCaptured(node, [join(repoRoot(), 'build', 'release.mjs'), '--skip-build', '--out', join(again, 'release')], process.env, 170_000);
      assert.equal(r.code, 0, r.stderr);
      const zipSums = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l.endsWith('.zip'));
      assert.equal(zipSums(join(again, 'release', 'SHA256SUMS')).length, FLAVOURS.length);
      assert.deepEqual(zipSums(join(again, 'release', 'SHA256SUMS')), zipSums(join(dir, 'SHA256SUMS')));
    } finally {
      rmSync(again, { recursive: true, force: true });
    }
  });
});
