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
 * Where the file goes: the output file as given, or the default name inside
 * the directory. Whether a path the user gave names a folder is decided by
 * whoever took it from the user (the module, or the command line), once.
 */
export function resolveTarget(
  choice: TargetChoice,
  names: { vaultName: string; name: string },
  nowMs: number,
  pathApi: path.PlatformPath = path,
): string {
  if (choice.outputFile !== undefined) return pathApi.resolve(choice.outputFile);
  if (choice.directory !== undefined) return pathApi.join(pathApi.resolve(choice.directory), defaultFileName(names.vaultName, names.name, nowMs));
  throw new Error('resolveTarget needs an outputFile or a directory');
}
