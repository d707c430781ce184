import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startExe } from './run-exe.js';

/** One line the executable writes, on stdout or (a diagnostic) on stderr: the fields of docs/protocol.md. */
export interface Message {
  type?: string;
  id?: string | number;
  ok?: boolean;
  path?: string;
  bytes?: number;
  error?: { kind: string; errorId: string; category: string; message: string; code?: string; status?: number; vaultName?: string; name?: string; secretId?: string; inputFile?: string };
  /** A restore's result: what the vault restored (docs/protocol.md, "Responses"). */
  item?: Record<string, unknown> & { kind: string; vaultName: string; name?: string; version?: string; id?: string };
  logged?: number;
  pipeline?: number;
  succeeded?: number;
  failed?: number;
  protocol?: number;
  version?: string;
  context?: string;
  tenantId?: string;
  reason?: string;
  errorId?: string;
  kind?: string;
  message?: string;
  line?: number;
  level?: string;
}

/** Every line of a run's stdout (or its stderr diagnostics), parsed. */
export function parseLines(text: string): Message[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Message);
}

/** Results sorted by id (numbers before strings): the executable writes them as each finishes, in any order. */
export function resultsById(lines: Message[]): Message[] {
  const key = (m: Message) => (typeof m.id === 'number' ? [0, m.id] : [1, String(m.id)]) as [number, number | string];
  return lines
    .filter((l) => l.type === 'result')
    .sort((a, b) => {
      const [ka, va] = key(a);
      const [kb, vb] = key(b);
      return ka !== kb ? ka - kb : va < vb ? -1 : va > vb ? 1 : 0;
    });
}

export interface ServeSession {
  readonly child: ChildProcessWithoutNullStreams;
  /** Every stdout line so far, parsed, in the order written. */
  readonly lines: Message[];
  stderr(): string;
  /** The stderr lines that are JSON diagnostics, parsed. */
  diagnostics(): Message[];
  send(...messages: unknown[]): void;
  /** The first stdout line (already written or still to come) that passes `test`; rejects after `timeoutMs`. */
  next(test: (m: Message) => boolean, timeoutMs?: number): Promise<Message>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Closes stdin (optionally after last lines) and waits for the exit code. */
  close(...last: unknown[]): Promise<number | null>;
}

/**
 * Drives `az-keyvault-backup serve` line by line, as the module does: a test sends requests over
 * time, answers what the executable asks and sees each answer as it is written.
 */
export function startServe(args: string[], env: NodeJS.ProcessEnv): ServeSession {
  // Never outlive the test run, whatever a failing test left open.
  const { child, done, stderr } = startExe(['serve', ...args], env, undefined, 120_000);
  const lines: Message[] = [];
  const waiting: Array<{ test: (m: Message) => boolean; resolve: (m: Message) => void }> = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    const message = JSON.parse(line) as Message;
    lines.push(message);
    for (const w of waiting.splice(0)) {
      if (w.test(message)) w.resolve(message);
      else waiting.push(w);
    }
  });
  const exited = done.then(({ code, signal }) => ({ code, signal }));
  const send = (...messages: unknown[]): void => {
    for (const m of messages) child.stdin.write(`${typeof m === 'string' ? m : JSON.stringify(m)}\n`);
  };
  return {
    child,
    lines,
    stderr,
    diagnostics: () => parseLines(stderr()),
    send,
    next: (test, timeoutMs = 30_000) =>
      new Promise<Message>((resolve, reject) => {
        const seen = lines.find(test);
        if (seen) return resolve(seen);
        const timer = setTimeout(() => reject(new Error(`no such line within ${timeoutMs} ms; stdout so far: ${JSON.stringify(lines)}; stderr: ${stderr().slice(-2000)}`)), timeoutMs);
        waiting.push({
          test,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      }),
    exited,
    close: async (...last) => {
      send(...last);
      child.stdin.end();
      return (await exited).code;
    },
  };
}
