// A small, dependency-free ZIP writer for the release packages. Own code rather than the `zip`
// tool so that a release needs nothing beyond Node, and so that the archives are reproducible:
// fixed timestamps, sorted entries, and Unix modes recorded so that `unzip`, .NET's
// ZipFile/Expand-Archive and macOS Archive Utility give the executable its x bit back.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const deflateRaw = promisify(zlib.deflateRaw);

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL = 0x06054b50;
const VERSION_NEEDED = 20; // 2.0: deflate and directories
const VERSION_MADE_BY = (3 << 8) | 30; // host 3 = Unix, so external attributes carry st_mode
const FLAG_UTF8 = 1 << 11;
const METHOD_STORE = 0;
const METHOD_DEFLATE = 8;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const MAX_32 = 0xffffffff;

/** MS-DOS date and time (local fields, 2-second resolution), from a UTC date so every build agrees. */
export function dosDateTime(when) {
  // DOS time starts in 1980; an earlier date (SOURCE_DATE_EPOCH=0) becomes its first second.
  const date = when.getUTCFullYear() < 1980 ? new Date(Date.UTC(1980, 0, 1)) : when;
  const year = date.getUTCFullYear();
  return {
    time: (date.getUTCHours() << 11) | (date.getUTCMinutes() << 5) | Math.floor(date.getUTCSeconds() / 2),
    date: ((year - 1980) << 9) | ((date.getUTCMonth() + 1) << 5) | date.getUTCDate(),
  };
}

/**
 * Compresses one file's bytes once; the result can go into several archives (the per-platform
 * package and the all-platform one share every executable).
 */
export async function prepareEntry(name, data, { mode = 0o644, level = 9 } = {}) {
  if (name.startsWith('/') || name.includes('\\') || name.split('/').includes('..')) throw new Error(`bad zip entry name ${name}`);
  const deflated = await deflateRaw(data, { level });
  const stored = deflated.length >= data.length;
  return {
    name,
    mode: S_IFREG | (mode & 0o777),
    crc: zlib.crc32(data),
    size: data.length,
    method: stored ? METHOD_STORE : METHOD_DEFLATE,
    payload: stored ? data : deflated,
  };
}

export function directoryEntry(name) {
  const dirName = name.endsWith('/') ? name : `${name}/`;
  return { name: dirName, mode: S_IFDIR | 0o755, crc: 0, size: 0, method: METHOD_STORE, payload: Buffer.alloc(0) };
}

/** Every parent folder of every file, as explicit entries: some extractors skip empty-named parents. */
export function withDirectories(entries) {
  const dirs = new Set();
  for (const e of entries) {
    const parts = e.name.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(`${parts.slice(0, i).join('/')}/`);
  }
  const all = [...[...dirs].map(directoryEntry), ...entries.filter((e) => !e.name.endsWith('/'))];
  return all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// The local header and the central directory record share this run of fields, from "version
// needed to extract" to "file name length" (APPNOTE 4.3.7 and 4.3.12), at different offsets.
function writeSharedFields(buffer, at, e, name, time, date) {
  buffer.writeUInt16LE(VERSION_NEEDED, at);
  buffer.writeUInt16LE(FLAG_UTF8, at + 2);
  buffer.writeUInt16LE(e.method, at + 4);
  buffer.writeUInt16LE(time, at + 6);
  buffer.writeUInt16LE(date, at + 8);
  buffer.writeUInt32LE(e.crc >>> 0, at + 10);
  buffer.writeUInt32LE(e.payload.length, at + 14);
  buffer.writeUInt32LE(e.size, at + 18);
  buffer.writeUInt16LE(name.length, at + 22);
}

/**
 * Writes the archive to a temp file beside `outPath` and renames it over, so a failed or
 * interrupted release never leaves a truncated zip with the final name.
 */
export function writeZip(outPath, entries, { mtime = new Date(Date.UTC(2026, 0, 1)) } = {}) {
  const { time, date } = dosDateTime(mtime);
  const temp = `${outPath}.partial-${process.pid}`;
  let fd = openSync(temp, 'w', 0o644);
  let offset = 0;
  const central = [];
  // writeSync may write less than asked (Linux caps one write near 2 GiB).
  const write = (buffer) => {
    for (let done = 0; done < buffer.length; ) done += writeSync(fd, buffer, done, buffer.length - done);
    offset += buffer.length;
  };
  try {
    // 0xFFFF and 0xFFFFFFFF themselves mean "see the ZIP64 record" (APPNOTE 4.4.8), so they are out too.
    if (entries.length >= 0xffff) throw new Error(`${outPath}: ${entries.length} entries need ZIP64, which this writer does not do`);
    for (const e of entries) {
      const name = Buffer.from(e.name, 'utf8');
      if (offset >= MAX_32 || e.payload.length >= MAX_32 || e.size >= MAX_32) throw new Error(`${outPath}: over 4 GiB needs ZIP64, which this writer does not do`);
      const local = Buffer.alloc(30);
      local.writeUInt32LE(LOCAL_HEADER, 0);
      writeSharedFields(local, 4, e, name, time, date);
      local.writeUInt16LE(0, 28);
      const headerOffset = offset;
      write(local);
      write(name);
      write(e.payload);

      const c = Buffer.alloc(46);
      c.writeUInt32LE(CENTRAL_HEADER, 0);
      c.writeUInt16LE(VERSION_MADE_BY, 4);
      writeSharedFields(c, 6, e, name, time, date);
      // 30 extra length, 32 comment length, 34 disk number, 36 internal attributes: all 0
      const dosAttributes = e.name.endsWith('/') ? 0x10 : 0;
      c.writeUInt32LE(((e.mode << 16) | dosAttributes) >>> 0, 38);
      c.writeUInt32LE(headerOffset, 42);
      central.push(c, name);
    }
    const centralOffset = offset;
    for (const buffer of central) write(buffer);
    const centralSize = offset - centralOffset;
    if (centralOffset >= MAX_32 || centralSize >= MAX_32) throw new Error(`${outPath}: over 4 GiB needs ZIP64, which this writer does not do`);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(END_OF_CENTRAL, 0);
    end.writeUInt16LE(entries.length, 8);
    end.writeUInt16LE(entries.length, 10);
    end.writeUInt32LE(centralSize, 12);
    end.writeUInt32LE(centralOffset, 16);
    write(end);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, outPath);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  return offset;
}
