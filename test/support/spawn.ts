import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The one way the tests start a program and collect what it did. Every suite's own helper
 * (runExe, startServe, runPwsh, the Windows and release runners) is a thin layer over this.
 */
export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * What the program reads: text or bytes, written and then closed (the default is an empty,
   * closed stdin); 'open' leaves the pipe to the caller (`child.stdin`); 'ignore' is /dev/null.
   */
  stdin?: string | Uint8Array | 'open' | 'ignore';
  /**
   * How stdout and stderr are collected: pipes (the default); files, for programs that cannot
   * take a pipe (Wine hands one to a Windows program as an invalid handle), stdin then comes
   * from a file too; or not at all, for a program that writes its own files.
   */
  capture?: 'pipes' | 'files' | 'none';
  /** The process group is killed after this long (default 30 s), whatever a failing test left open. */
  timeoutMs?: number;
  /** Runs first when the timeout strikes (e.g. ending Wine's server, which holds the program's processes). */
  beforeKill?: () => void;
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
  stderrBytes: Buffer;
  /** From the start to the end of its output. */
  ms: number;
  /** The timeout killed it. */
  timedOut: boolean;
}

export interface Running {
  /** With capture 'pipes' its stdout and stderr are pipes, and its stdin is one when `stdin` was not 'ignore'. */
  readonly child: ChildProcess;
  /** What it wrote so far (the whole output once `done` has resolved; empty with capture 'files' until then). */
  stdout(): string;
  stderr(): string;
  /** Resolves once it exited and its output ended (or the timeout killed it); rejects if it could not start. */
  readonly done: Promise<Finished>;
  /** Signals its whole process group: what it started too. */
  killGroup(signal?: NodeJS.Signals): void;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Starts a program in a process group of its own (on POSIX), so a timeout ends everything it
 * started, and collects its output without blocking this process's event loop: the local vault
 * that serves the program answers from it.
 */
export function startProcess(program: string, args: readonly string[], options: SpawnOptions = {}): Running {
  const capture = options.capture ?? 'pipes';
  const stdin = options.stdin ?? '';
  const started = Date.now();
  let files: { dir: string; fds: number[] } | undefined;
  let stdio: Array<'pipe' | 'ignore' | number>;
  if (capture === 'files') {
    if (stdin === 'open') throw new Error("startProcess: capture 'files' takes its stdin from a file, so it cannot be left open");
    const dir = mkdtempSync(join(tmpdir(), 'azkvb-spawn-'));
    writeFileSync(join(dir, 'in'), stdin === 'ignore' ? '' : stdin);
    files = { dir, fds: [openSync(join(dir, 'in'), 'r'), openSync(join(dir, 'out'), 'w'), openSync(join(dir, 'err'), 'w')] };
    stdio = files.fds;
  } else {
    const out = capture === 'pipes' ? 'pipe' : 'ignore';
    stdio = [stdin === 'ignore' ? 'ignore' : 'pipe', out, out];
  }

  const groups = process.platform !== 'win32';
  let child: ChildProcess;
  try {
    child = spawn(program, args, { env: options.env ?? process.env, cwd: options.cwd, stdio, detached: groups });
  } catch (error) {
    if (files) cleanUp(files);
    throw error;
  }
  // The child keeps its own copies of the files; ours are only needed to read them back.
  if (files) for (const fd of files.fds.splice(0)) closeSync(fd);

  const out: Buffer[] = [];
  const err: Buffer[] = [];
  // Bytes, even if a caller reading along set an encoding on the stream.
  const bytes = (chunk: Buffer | string): Buffer => (typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
  child.stdout?.on('data', (chunk: Buffer | string) => out.push(bytes(chunk)));
  child.stderr?.on('data', (chunk: Buffer | string) => err.push(bytes(chunk)));
  if (child.stdin && stdin !== 'open' && stdin !== 'ignore') {
    // A program that exits without reading all its input must not fail the run with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  }

  const killGroup = (signal: NodeJS.Signals = 'SIGKILL'): void => {
    try {
      if (groups && child.pid !== undefined) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      // Already gone, group and all.
    }
  };

  let timedOut = false;
  const done = new Promise<Finished>((resolve, reject) => {
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        options.beforeKill?.();
      } finally {
        killGroup('SIGKILL');
      }
    }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      if (files) cleanUp(files);
      files = undefined;
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // An 'open' stdin the caller never closed must not keep this process alive.
      child.stdin?.destroy();
      if (files) {
        out.push(readFileSync(join(files.dir, 'out')));
        err.push(readFileSync(join(files.dir, 'err')));
        cleanUp(files);
        files = undefined;
      }
      const stdoutBytes = Buffer.concat(out);
      const stderrBytes = Buffer.concat(err);
      resolve({ code, signal, stdout: stdoutBytes.toString('utf8'), stderr: stderrBytes.toString('utf8'), stdoutBytes, stderrBytes, ms: Date.now() - started, timedOut });
    });
  });
  return {
    child,
    stdout: () => Buffer.concat(out).toString('utf8'),
    stderr: () => Buffer.concat(err).toString('utf8'),
    done,
    killGroup,
  };
}

/** Runs a program to its end (see startProcess) and gives its exit and output. */
export function runProcess(program: string, args: readonly string[], options: SpawnOptions = {}): Promise<Finished> {
  try {
    return startProcess(program, args, options).done;
  } catch (error) {
    return Promise.reject(error as Error);
  }
}

function cleanUp(files: { dir: string; fds: number[] }): void {
  for (const fd of files.fds.splice(0)) closeSync(fd);
  rmSync(files.dir, { recursive: true, force: true });
}
