// package.json is the single source of the version; the PowerShell manifest follows it so that
// Get-Module and the executable's handshake never disagree.
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from './node-runtime.mjs';

export const MANIFEST = path.join(repoRoot, 'Az.KeyVault.Backup.psd1');

export function packageVersion() {
  return JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version;
}

// Returns true when the manifest was rewritten.
export function syncManifest(manifest = MANIFEST, version = packageVersion()) {
  if (!existsSync(manifest)) return false;
  const raw = readFileSync(manifest);
  // Keep a UTF-8 BOM if the file has one: Windows PowerShell 5.1 reads BOM-less files as ANSI.
  const bom = raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf;
  const text = raw.subarray(bom ? 3 : 0).toString('utf8');
  const pattern = /^(\s*ModuleVersion\s*=\s*)(['"])([^'"]*)\2/m;
  const match = pattern.exec(text);
  if (!match) throw new Error(`${manifest}: no ModuleVersion = '...' line`);
  if (match[3] === version) return false;
  const updated = text.replace(pattern, `$1$2${version}$2`);
  const temp = `${manifest}.tmp-${process.pid}`;
  writeFileSync(temp, Buffer.concat([bom ? Buffer.from([0xef, 0xbb, 0xbf]) : Buffer.alloc(0), Buffer.from(updated, 'utf8')]), {
    mode: statSync(manifest).mode & 0o777,
  });
  renameSync(temp, manifest);
  process.stderr.write(`[sync-manifest] ModuleVersion ${match[3]} -> ${version}\n`);
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  syncManifest();
}
