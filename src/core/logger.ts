/** How much is written: each level includes the ones before it. */
export type LogLevel = 'warning' | 'verbose' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['warning', 'verbose', 'debug'];

/** Where diagnostics go; the CLI decides whether that is stderr text or JSON lines. */
export interface Logger {
  warning(message: string): void;
  verbose(message: string): void;
  debug(message: string): void;
}

export const silentLogger: Logger = {
  warning: () => undefined,
  verbose: () => undefined,
  debug: () => undefined,
};
