import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { resolve as resolvePath } from 'node:path';
import { exePath } from './paths.js';
import { runProcess, startProcess } from './spawn.js';

export interface ExeRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * A clean environment for the executable: only what a user's machine would
 * have plus the variables that point it at the local vault, so no credential
 * from the developer's own environment can leak into a test.
 */
export function exeEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8' };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string;
  timeoutMs?: number;
}

export function runExe(args: string[], options: RunOptions): Promise<ExeRun> {
  return runProgram(resolvePath(exePath()), args, options);
}

/** Runs any program asynchronously (the local vault answers from this process's event loop), collecting its output. */
export function runProgram(program: string, args: string[], options: RunOptions): Promise<ExeRun> {
  return runProcess(program, args, { env: options.env, cwd: options.cwd, stdin: options.input ?? '', timeoutMs: options.timeoutMs ?? 30_000 });
}

export interface StartedExe {
  child: ChildProcessWithoutNullStreams;
  done: Promise<ExeRun>;
  /** What it wrote so far. */
  stdout(): string;
  stderr(): string;
}

/** Starts the executable without waiting, so a test can write to it over time or signal it mid-run; stdin stays open unless `input` is given. */
export function startExe(args: string[], env: NodeJS.ProcessEnv, input?: string, timeoutMs = 45_000): StartedExe {
  const running = startProcess(resolvePath(exePath()), args, { env, stdin: input ?? 'open', timeoutMs });
  // Pipes on all three streams: stdin was not 'ignore' and the output is captured.
  return { child: running.child as ChildProcessWithoutNullStreams, done: running.done, stdout: running.stdout, stderr: running.stderr };
}
