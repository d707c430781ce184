import { BackupError } from '../core/errors.js';
import { toBackupError } from '../core/error-mapping.js';
import type { BackupOutcome, BackupRequest } from '../core/backup.js';
import type { SuppliedToken } from '../core/credential.js';
import type { Logger } from '../core/logger.js';
import { helloLine, parseLine, PROTOCOL_VERSION, type RequestId } from './messages.js';
import { OrderedResults } from './ordered-results.js';

export interface ServeOptions {
  lines: AsyncIterable<string>;
  /**
   * The file a request will write when two requests could write the same one
   * (an explicit output file, not a directory); such requests run one after
   * the other, in request order, so the later one wins as in Az.
   */
  targetKey?(request: BackupRequest): string | undefined;
  /** Writes one protocol line (without the newline) to stdout. */
  write(line: string): void;
  logger: Logger;
  version: string;
  concurrency: number;
  backup(request: BackupRequest, signal: AbortSignal): Promise<BackupOutcome>;
  supplyToken(token: SuppliedToken): void;
  /** The module answered a tokenRequest with tokenUnavailable. */
  declineToken?(tenantId: string | undefined, message: string | undefined): void;
  /** Called after the handshake when the module's hello lists the 'tokenRequest' feature. */
  enableTokenRequests?(send: (tenantId: string | undefined) => void): void;
  /** Called when work is aborted, after in-flight requests settled (temp-file cleanup). */
  onAbort?(): Promise<void> | void;
}

interface Job {
  id: RequestId;
  request: BackupRequest;
  /** Fills this request's place in the ordered output. */
  done(line: string): void;
}

export const EXIT_OK = 0;
export const EXIT_ABORTED = 130;

/**
 * Serves the JSON-lines protocol until `end` (exit 0: everything accepted is
 * finished) or EOF without `end` (exit 130: in-flight work is cancelled and
 * nothing more is written to disk).
 */
export async function serve(options: ServeOptions): Promise<number> {
  const { write, logger } = options;
  const abort = new AbortController();
  const output = new OrderedResults<string>(write);
  let succeeded = 0;
  let failed = 0;
  let lineNumber = 0;
  let greeted = false;
  let ended = false;

  const protocolError = (message: string, errorId = 'ProtocolError'): void => {
    write(JSON.stringify({ type: 'protocolError', errorId, kind: 'Protocol', message, line: lineNumber }));
  };

  const failure = (id: RequestId, error: BackupError, request?: BackupRequest): string => {
    failed++;
    return JSON.stringify({
      type: 'result',
      id,
      ok: false,
      error: { ...error.toJSON(), vaultName: request?.vaultName, name: request?.name, secretId: request?.secretId },
    });
  };

  // Accepted requests wait as plain records and only become running work
  // (promises, SDK state, sockets) when a slot frees, so memory stays flat
  // however many lines the module sends ahead.
  const queue: Array<Job | undefined> = [];
  let head = 0;
  let running = 0;
  let idle: (() => void) | undefined;
  const settled = (): void => {
    running--;
    pump();
    if (running === 0 && head === queue.length) idle?.();
  };
  const targetTails = new Map<string, Promise<void>>();
  const start = ({ id, request, done }: Job): void => {
    running++;
    const key = options.targetKey?.(request);
    const previous = key !== undefined ? targetTails.get(key) : undefined;
    const work = (previous ?? Promise.resolve()).then(() => options.backup(request, abort.signal));
    if (key !== undefined) {
      const tail = work.then(
        () => undefined,
        () => undefined,
      );
      targetTails.set(key, tail);
      void tail.then(() => {
        if (targetTails.get(key) === tail) targetTails.delete(key);
      });
    }
    work
      .then(
        (outcome) => {
          succeeded++;
          done(JSON.stringify({ type: 'result', id, ok: true, path: outcome.path, bytes: outcome.bytes }));
        },
        (error: unknown) => done(failure(id, toBackupError(error, request), request)),
      )
      .finally(settled);
  };
  const pump = (): void => {
    while (running < options.concurrency && head < queue.length) {
      const job = queue[head]!;
      queue[head++] = undefined;
      start(job);
    }
    if (head > 1024 && head * 2 > queue.length) {
      queue.splice(0, head);
      head = 0;
    }
  };
  const allSettled = (): Promise<void> =>
    new Promise((resolve) => {
      if (running === 0 && head === queue.length) resolve();
      else idle = resolve;
    });

  for await (const line of options.lines) {
    lineNumber++;
    if (line.trim().length === 0) continue;
    let message;
    try {
      message = parseLine(line);
    } catch (error) {
      const e = toBackupError(error);
      logger.warning(`Protocol line ${lineNumber} was refused: ${e.message}`);
      protocolError(`Line ${lineNumber}: ${e.message}`);
      continue;
    }
    if (!greeted) {
      if (message.type !== 'hello') {
        protocolError(`The first line must be a 'hello' with protocol ${PROTOCOL_VERSION}.`);
        continue;
      }
      if (message.protocol !== PROTOCOL_VERSION) {
        write(JSON.stringify({
          type: 'error',
          errorId: 'ProtocolVersionMismatch',
          kind: 'Protocol',
          protocol: PROTOCOL_VERSION,
          message: `The module speaks protocol ${message.protocol}, but az-keyvault-backup ${options.version} speaks protocol ${PROTOCOL_VERSION}.`,
        }));
        return 11;
      }
      greeted = true;
      write(helloLine(options.version));
      if (message.features?.includes('tokenRequest') === true) {
        options.enableTokenRequests?.((tenantId) => write(JSON.stringify({ type: 'tokenRequest', ...(tenantId !== undefined ? { tenantId } : {}) })));
      }
      logger.debug(`Handshake done with ${message.client ?? 'an unnamed client'} (protocol ${PROTOCOL_VERSION}).`);
      continue;
    }
    switch (message.type) {
      case 'hello':
        protocolError("'hello' was already received.");
        break;
      case 'token':
        options.supplyToken({ token: message.token, expiresOnTimestamp: message.expiresOnTimestamp, tenantId: message.tenantId, resource: message.resource });
        logger.debug('Received a Key Vault token from the module (not shown).');
        break;
      case 'tokenUnavailable':
        options.declineToken?.(message.tenantId, message.message);
        break;
      case 'backupInvalid':
        output.reserve()(failure(message.id, message.error));
        break;
      case 'backup':
        queue.push({ id: message.id, request: message.request, done: output.reserve() });
        pump();
        break;
      case 'end':
        ended = true;
        break;
    }
    if (ended) break;
  }

  if (!ended) {
    // EOF without 'end': the pipeline was stopped or PowerShell went away.
    logger.verbose(`Input ended without 'end'; cancelling ${running + queue.length - head} backup(s) in flight or waiting.`);
    abort.abort();
    await allSettled();
    await options.onAbort?.();
    return EXIT_ABORTED;
  }
  await allSettled();
  write(JSON.stringify({ type: 'bye', succeeded, failed }));
  return EXIT_OK;
}
