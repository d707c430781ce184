#!/usr/bin/env node
// The only file that touches the process: it wires argv, env, stdio and
// signals to the parser, which gets everything else as arguments.
import { statSync, lstatSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { TempFileRegistry } from '../core/atomic-write.js';

declare const __AZKVB_VERSION__: string | undefined;

// Windows: libuv keeps the process title in a variable that is filled, on first read, from
// GetConsoleTitleW. A console without a window (the module starts us with CreateNoWindow) can have
// an empty title; GetConsoleTitleW then returns 0 without setting an error, libuv's
// uv_get_process_title() takes that as success and fails `assert(process_title)` (deps/uv/src/win/
// util.c), which aborts the process with 0xC0000409. Setting the title first fills that variable,
// so no later read (by Node itself or a dependency) ever asks the console. Like npm's own
// process.title = 'npm'; if there is no console at all, libuv reports a real error instead.
if (process.platform === 'win32') {
  try {
    process.title = 'az-keyvault-backup';
  } catch {
    // No console to name: every later read then fails cleanly with that console's error.
  }
}

function version(): string {
  if (typeof __AZKVB_VERSION__ === 'string') return __AZKVB_VERSION__;
  // Unbundled runs (tests of the compiled output) read package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

// TLS verification is never optional. Node would honour this variable on every
// connection (sending a token to whoever answers), so it is removed before any
// connection is made, and the user is told it was ignored.
const tlsOverride = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
const startupWarnings =
  tlsOverride !== undefined && tlsOverride !== '1'
    ? [`NODE_TLS_REJECT_UNAUTHORIZED=${JSON.stringify(tlsOverride)} is ignored: az-keyvault-backup always verifies TLS certificates. Trust a local CA with NODE_EXTRA_CA_CERTS instead.`]
    : [];

const registry = new TempFileRegistry();

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    registry.removeAll();
    process.exit(130);
  });
}

// A closed stdout or stderr (the module went away, e.g. PowerShell killed) must not crash with
// EPIPE: an unhandled stream error would end the process before its temporary files are removed.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', () => {
    registry.removeAll();
    process.exit(130);
  });
}

// Exit explicitly once the command is done: idle keep-alive sockets or a
// credential's timers must not keep a finished (or aborted) run alive. The
// empty writes let buffered output reach a pipe first (async on Windows).
function exitWhenFlushed(): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit()));
}

// A session executable outlives pipelines, so its end must not hang on stdin's EOF alone: on
// Windows another child that inherited the pipe's handle would keep it open after PowerShell died.
// If the parent is gone (re-parented on Unix, no such process on Windows), input counts as ended.
function endWhenParentGoes(lines: ReturnType<typeof createInterface>): ReturnType<typeof createInterface> {
  const parent = process.ppid;
  const watch = setInterval(() => {
    let gone = process.ppid !== parent;
    if (!gone) {
      try {
        process.kill(parent, 0);
      } catch (error) {
        gone = (error as NodeJS.ErrnoException).code === 'ESRCH';
      }
    }
    if (gone) {
      clearInterval(watch);
      lines.close();
    }
  }, 500);
  watch.unref();
  lines.once('close', () => clearInterval(watch));
  return lines;
}

async function main(): Promise<void> {
  const { createParser } = await import('./parser.js');
  const parser = createParser({
    version: version(),
    env: process.env,
    startupWarnings,
    cwd: process.cwd(),
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
    stdinLines: () => endWhenParentGoes(createInterface({ input: process.stdin, crlfDelay: Infinity })),
    setExitCode: (code) => {
      process.exitCode = code;
    },
    fs: {
      isDirectory: (file) => statSync(file, { throwIfNoEntry: false })?.isDirectory() ?? false,
      exists: (file) => lstatSync(file, { throwIfNoEntry: false }) !== undefined,
    },
    // Microseconds, not Date.now()'s milliseconds: two backups of one secret in the same
    // millisecond (e.g. piped versions) must still get different default names.
    now: () => performance.timeOrigin + performance.now(),
    registry,
  });
  await parser.parseAsync(process.argv.slice(2));
}

// `--version` alone is answered before yargs and the rest of the program are
// loaded (the parser is imported dynamically, so the bundle keeps it lazy):
// scripts and the module call it to check the executable and should not wait.
const args = process.argv.slice(2);
if (args.length === 1 && args[0] === '--version') {
  process.stdout.write(`${version()}\n`);
} else {
  main()
    .catch((error: unknown) => {
      process.stderr.write(`az-keyvault-backup: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    })
    .finally(exitWhenFlushed);
}
