import * as path from 'node:path';

/**
 * The Az cmdlet's default name, `<vault>-<name>-<epoch seconds with fraction>`,
 * lower-cased as its help page shows. The fraction keeps two backups taken in
 * the same second apart.
 */
export function defaultFileName(vaultName: string, secretName: string, nowMs: number): string {
  const seconds = (nowMs / 1000).toFixed(5).replace(/0+$/, '').replace(/\.$/, '');
  return `${vaultName.toLowerCase()}-${secretName.toLowerCase()}-${seconds}`;
}

export interface TargetChoice {
  /** Absolute file path the user asked for. */
  outputFile?: string;
  /** Absolute directory for a default-named file. */
  directory?: string;
}

/**
 * Where the file goes. `isDirectory` is passed in so this stays pure; an
 * -OutputFile naming an existing directory gets the default name inside it.
 */
export function resolveTarget(
  choice: TargetChoice,
  names: { vaultName: string; name: string },
  nowMs: number,
  isDirectory: (p: string) => boolean,
  pathApi: path.PlatformPath = path,
): string {
  const fileName = defaultFileName(names.vaultName, names.name, nowMs);
  if (choice.outputFile !== undefined) {
    const file = pathApi.resolve(choice.outputFile);
    return isDirectory(file) ? pathApi.join(file, fileName) : file;
  }
  if (choice.directory !== undefined) return pathApi.join(pathApi.resolve(choice.directory), fileName);
  throw new Error('resolveTarget needs an outputFile or a directory');
}
