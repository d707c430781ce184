import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger, LogLevel } from '../core/logger.js';

const RANK: Record<LogLevel, number> = { warning: 0, verbose: 1, debug: 2 };

/**
 * Diagnostics go to stderr only. In serve mode they are JSON lines the module
 * turns into Write-Verbose/Write-Debug/Write-Warning; for people, plain text.
 */
export function stderrLogger(writeErr: (line: string) => void, level: LogLevel, format: 'json' | 'text'): Logger {
  const emit = (at: LogLevel) => (message: string) => {
    if (RANK[at] > RANK[level]) return;
    writeErr(format === 'json' ? JSON.stringify({ level: at, message }) : `${at.toUpperCase()}: ${message}`);
  };
  return { warning: emit('warning'), verbose: emit('verbose'), debug: emit('debug') };
}

/**
 * The serve command's diagnostics: one session serves many pipelines, each with its own log level.
 * Work started within(pipeline, …) logs tagged with that pipeline at that level, wherever the
 * message comes from (the SDK's pipeline, the credential); anything else logs untagged at the
 * session's level.
 */
export function pipelineRoutedLogger(
  writeErr: (line: string) => void,
  sessionLevel: LogLevel,
): {
  logger: Logger;
  within<T>(pipeline: number, level: LogLevel, fn: () => Promise<T>): Promise<T>;
  /** How many lines were written for the pipeline so far; forgets it when told it is finished. */
  written(pipeline: number, finished?: boolean): number;
} {
  const current = new AsyncLocalStorage<{ pipeline: number; level: LogLevel }>();
  const counts = new Map<number, number>();
  const emit = (at: LogLevel) => (message: string) => {
    const scope = current.getStore();
    if (RANK[at] > RANK[scope?.level ?? sessionLevel]) return;
    if (scope === undefined) {
      writeErr(JSON.stringify({ level: at, message }));
      return;
    }
    counts.set(scope.pipeline, (counts.get(scope.pipeline) ?? 0) + 1);
    writeErr(JSON.stringify({ level: at, message, pipeline: scope.pipeline }));
  };
  return {
    logger: { warning: emit('warning'), verbose: emit('verbose'), debug: emit('debug') },
    within: (pipeline, level, fn) => current.run({ pipeline, level }, fn),
    written(pipeline, finished = false) {
      const count = counts.get(pipeline) ?? 0;
      if (finished) counts.delete(pipeline);
      return count;
    },
  };
}
