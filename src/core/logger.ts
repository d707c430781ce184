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
