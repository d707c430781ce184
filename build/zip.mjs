// The release packages' archives, written by yazl (a devDependency). What this adapter adds to
// yazl's defaults, so that two builds of one commit give byte-identical zips and `unzip`, .NET's
// ZipFile/Expand-Archive and macOS Archive Utility give the executable its x bit back:
//   - entries in sorted order, every parent folder as an entry of its own;
//   - one timestamp, the commit's, as UTC fields, and no extended-timestamp extra field;
//   - Unix modes in the external attributes: 0100644, 0100755 for executables, 040755 for folders;
//   - full CRC and sizes in every local header (buffers, never streams: no data descriptors).
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import yazl from 'yazl';

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const LEVEL = 9;

/** One file: its bytes are deflated by each archive it goes into. */
export function prepareEntry(name, data, { mode = 0o644 } = {}) {
  // yazl refuses absolute and `..` names itself, but would turn a backslash into a folder.
  if (name.startsWith('/') || name.includes('\\') || name.split('/').includes('..')) throw new Error(`bad zip entry name ${name}`);
  return { name, data, mode: S_IFREG | (mode & 0o777) };
}

/** Every parent folder of every file, as explicit entries: some extractors skip empty-named parents. */
export function withDirectories(entries) {
  const dirs = new Set();
  for (const e of entries) {
    const parts = e.name.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(`${parts.slice(0, i).join('/')}/`);
  }
  const all = [...[...dirs].map((name) => ({ name, mode: S_IFDIR | 0o755 })), ...entries.filter((e) => !e.name.endsWith('/'))];
  return all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// yazl turns a Date into MS-DOS fields in the process's time zone, when the entry is added; the
// archive must not depend on the builder's, so entries are added with TZ=UTC (Node rereads TZ).
function inUtc(fn) {
  const saved = process.env.TZ;
  process.env.TZ = 'UTC';
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
}

/**
 * Writes the archive to a temp file beside `outPath` and renames it over, so a failed or
 * interrupted release never leaves a truncated zip with the final name. Resolves to its size.
 */
export async function writeZip(outPath, entries, { mtime = new Date(Date.UTC(2026, 0, 1)) } = {}) {
  // DOS time starts in 1980. yazl clamps to its own 1980-01-01 in the time zone it was loaded in,
  // so an earlier date is clamped here, to a day yazl never moves in any zone.
  const when = mtime.getTime() < Date.UTC(1980, 0, 2) ? new Date(Date.UTC(1980, 0, 2)) : mtime;
  const zip = new yazl.ZipFile();
  // yazl reports on the ZipFile; ending the output with the error ends the loop below with it.
  zip.on('error', (error) => zip.outputStream.destroy(error));
  inUtc(() => {
    for (const e of entries) {
      const options = { mtime: when, mode: e.mode, forceDosTimestamp: true };
      if (e.name.endsWith('/')) zip.addEmptyDirectory(e.name, options);
      else zip.addBuffer(e.data, e.name, { ...options, compressionLevel: LEVEL });
    }
  });
  zip.end();

  const temp = `${outPath}.partial-${process.pid}`;
  let fd = openSync(temp, 'w', 0o644);
  let size = 0;
  try {
    for await (const chunk of zip.outputStream) {
      // writeSync may write less than asked.
      for (let done = 0; done < chunk.length; ) done += writeSync(fd, chunk, done, chunk.length - done);
      size += chunk.length;
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, outPath);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  return size;
}
