import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, watch } from 'node:fs';
import * as path from 'node:path';

export const TEMP_SUFFIX = '.azkvb-tmp';

/** The bytes a pre-existing file holds, so a test can prove a failed run left them alone. */
export const OLD_BYTES = Buffer.from('an older backup that must survive every failure\n');

/** Files in a directory, sorted, for exact before/after comparisons. */
export function listing(dir: string): string[] {
  return readdirSync(dir).sort();
}

export function tempFilesIn(dir: string): string[] {
  return listing(dir).filter((f) => f.endsWith(TEMP_SUFFIX));
}

/**
 * The all-or-nothing rule for one target: after a failure the directory holds
 * exactly what it held before (no new file, no temp file) and a pre-existing
 * target still has its old bytes.
 */
export function assertUntouched(dir: string, before: string[], target?: string): void {
  assert.deepEqual(listing(dir), before, 'a failed backup must not create or leave any file');
  if (target !== undefined && before.includes(path.basename(target))) {
    assert.deepEqual(readFileSync(target), OLD_BYTES, 'a failed backup must not change an existing file');
  }
}

/** A backup answer body of about `bytes` decoded bytes, random so no slice of it occurs by chance. */
export function bigBackupBody(bytes: number): { body: string; blob: Buffer } {
  const blob = randomBytes(bytes);
  return { body: JSON.stringify({ value: blob.toString('base64url') }), blob };
}

/** Starts the executable without waiting, so a test can signal it mid-run (the one helper in test/support/run-exe.ts). */
export { startExe, type StartedExe as Started } from '../support/run-exe.js';

/**
 * Resolves with the temp file's name as soon as one appears in `dir`
 * (inotify, so the window between create and rename is caught), or undefined
 * if none appears within `timeoutMs`. `onAppear` runs synchronously on the
 * event, before anything else can happen to the file.
 */
export function whenTempFileAppears(dir: string, timeoutMs: number, onAppear: (file: string) => void): Promise<string | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (file: string | undefined): void => {
      if (settled) return;
      settled = true;
      watcher.close();
      clearTimeout(timer);
      resolve(file);
    };
    const watcher = watch(dir, (_event, name) => {
      if (settled || typeof name !== 'string' || !name.endsWith(TEMP_SUFFIX)) return;
      const file = path.join(dir, name);
      onAppear(file);
      finish(file);
    });
    const timer = setTimeout(() => finish(undefined), timeoutMs);
  });
}

/** Every 8-bit slice of a secret that would show it leaked, in the encodings it could leak in. */
export function leakNeedles(label: string, bytes: Buffer): Array<[string, string]> {
  const mid = Math.floor(bytes.length / 2);
  const slice = bytes.subarray(Math.max(0, mid - 12), mid + 12);
  return [
    [`${label} as base64url`, bytes.toString('base64url')],
    [`${label} as base64`, bytes.toString('base64')],
    [`${label} middle slice as base64url`, slice.toString('base64url').slice(4, 28)],
    [`${label} middle slice as hex`, slice.toString('hex')],
  ];
}

export function assertNoLeak(where: string, text: string, needles: Array<[string, string]>): void {
  for (const [what, needle] of needles) {
    if (needle.length < 8) continue;
    assert.ok(!text.includes(needle), `${what} appears in ${where}`);
  }
}
