import type { Logger } from '../core/logger.js';

export type LogLevel = 'warning' | 'verbose' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['warning', 'verbose', 'debug'];

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
