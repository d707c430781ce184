import { BackupError } from '../core/errors.js';
import { toBackupError } from '../core/error-mapping.js';
import type { BackupOutcome, BackupRequest } from '../core/backup.js';
import type { RestoreRequest } from '../core/restore.js';
import type { RestoredItem } from '../core/restored-item.js';
import type { SuppliedToken } from '../core/credential.js';
import type { Logger } from '../core/logger.js';
import { composeFailureMessage } from './failure-message.js';
import type { LogLevel } from '../core/logger.js';
import { helloLine, parseLine, PROTOCOL_VERSION, type Incoming, type PipelineSettings, type RequestId } from './messages.js';

/** A pipeline's settings with the command line's defaults filled in. */
export type ResolvedSettings = Required<Omit<PipelineSettings, 'dnsSuffix'>> & Pick<PipelineSettings, 'dnsSuffix'>;

export interface ServeOptions {
  lines: AsyncIterable<string>;
  /** Writes one protocol line (without the newline) to stdout. */
  write(line: string): void;
  /** Diagnostics outside any pipeline (the handshake, refused lines, the session ending). */
  logger: Logger;
  version: string;
  /** The settings of a pipeline whose 'begin' left them out, and of pipeline 0 (no 'begin' needed). */
  defaults: ResolvedSettings;
  /** With no pipeline open for this long, the session ends by itself (0: never). */
  idleTimeoutMs: number;
  /** One backup of one pipeline; its diagnostics go to that pipeline at its log level. */
  backup(request: BackupRequest, settings: ResolvedSettings, signal: AbortSignal): Promise<BackupOutcome>;
  /** One restore of one pipeline, like backup. */
  restore(request: RestoreRequest, settings: ResolvedSettings, signal: AbortSignal): Promise<RestoredItem>;
  /** Runs fn with the pipeline's diagnostics routed to it (and filtered by its level). */
  within<T>(pipeline: number, level: LogLevel, fn: () => Promise<T>): Promise<T>;
  supplyToken(context: string, token: SuppliedToken): void;
  /** The module answered a tokenRequest with tokenUnavailable. */
  declineToken(context: string, tenantId: string | undefined, message: string | undefined): void;
  /** Called after the handshake when the module's hello lists the 'tokenRequest' feature. */
  enableTokenRequests(send: (context: string, tenantId: string | undefined) => void): void;
  /** Called when everything was aborted (stdin ended with pipelines open), after in-flight requests settled. */
  onAbort?(): Promise<void> | void;
  /**
   * How many diagnostic lines were written for the pipeline so far (finished: it will write no
   * more). Each result carries it, so the module, which reads stderr apart from stdout, shows a
   * result only after the diagnostics written before it.
   */
  diagnosticsWritten?(pipeline: number, finished?: boolean): number;
  /** Warnings every pipeline gets when it opens (a setting that is ignored), so each call shows them. */
  pipelineWarnings?: readonly string[];
  /** Timers, replaceable by tests. */
  setTimer?(fn: () => void, ms: number): { cancel(): void };
}

type Job =
  | { id: RequestId; op: 'backup'; request: BackupRequest; after?: RequestId }
  | { id: RequestId; op: 'restore'; request: RestoreRequest; after?: undefined };

interface Pipeline {
  id: number;
  settings: ResolvedSettings;
  abort: AbortController;
  queue: Job[];
  head: number;
  running: number;
  succeeded: number;
  failed: number;
  /** 'end' received: answer 'done' once nothing is left. */
  ending: boolean;
  /** 'cancel' received: no more results; answer 'cancelled' once in-flight work settled. */
  cancelled: boolean;
  /** Each request's settling, so a request sent with 'after' waits for the one it names. */
  tails: Map<RequestId, Promise<void>>;
}

export const EXIT_OK = 0;
export const EXIT_ABORTED = 130;
export const EXIT_PROTOCOL_MISMATCH = 11;

const defaultTimer = (fn: () => void, ms: number): { cancel(): void } => {
  const handle = setTimeout(fn, ms);
  // Never what keeps the process alive: its input is.
  handle.unref();
  return { cancel: () => clearTimeout(handle) };
};

/**
 * Serves the JSON-lines protocol (docs/protocol.md) for one PowerShell session:
 * many pipelines over one process, each begun, ended or cancelled on its own.
 * Results are written as each backup finishes; the module puts them in order.
 * The session ends on stdin EOF (in-flight work cancelled, exit 130 if any was
 * open, else 0) or after idleTimeoutMs with no pipeline open (exit 0).
 */
export async function serve(options: ServeOptions): Promise<number> {
  const { write, logger } = options;
  const setTimer = options.setTimer ?? defaultTimer;
  const pipelines = new Map<number, Pipeline>();
  // Pipelines already answered (done or cancelled): work for one of them is refused, not a fresh
  // start with other settings. The newest few thousand are kept; the module numbers its pipelines
  // upwards, so an older one never comes back.
  const closed = new Set<number>();
  const CLOSED_KEPT = 4096;
  let lineNumber = 0;
  let greeted = false;
  let settledWaiter: (() => void) | undefined;
  // Set once stdin has ended: nobody reads stdout any more.
  let closing = false;

  const protocolError = (message: string): void => {
    write(JSON.stringify({ type: 'protocolError', errorId: 'ProtocolError', kind: 'Protocol', message, line: lineNumber }));
  };

  const logged = (pipeline: number): { logged?: number } => {
    const count = options.diagnosticsWritten?.(pipeline) ?? 0;
    return count > 0 ? { logged: count } : {};
  };

  const failureLine = (pipeline: number, id: RequestId, error: BackupError, request?: BackupRequest | RestoreRequest): string => {
    const about = request as (BackupRequest & Partial<RestoreRequest>) | undefined;
    return JSON.stringify({
      type: 'result',
      id,
      ok: false,
      error: {
        ...error.toJSON(),
        message: composeFailureMessage(error.message, about !== undefined ? { ...about, kind: pipelines.get(pipeline)?.settings.kind } : undefined),
        vaultName: about?.vaultName ?? about?.hsmName,
        name: about?.name,
        secretId: about?.secretId,
        inputFile: about?.inputFile,
      },
      ...logged(pipeline),
    });
  };

  const open = (id: number, settings?: PipelineSettings): Pipeline => {
    const p: Pipeline = {
      id,
      settings: { ...options.defaults, ...settings },
      abort: new AbortController(),
      queue: [],
      head: 0,
      running: 0,
      succeeded: 0,
      failed: 0,
      ending: false,
      cancelled: false,
      tails: new Map(),
    };
    pipelines.set(id, p);
    idle.stop();
    if (options.pipelineWarnings !== undefined && options.pipelineWarnings.length > 0) {
      void options.within(id, p.settings.logLevel, async () => {
        for (const warning of options.pipelineWarnings!) logger.warning(warning);
      });
    }
    return p;
  };

  const finishIfDone = (p: Pipeline): void => {
    if (p.running > 0 || (!p.cancelled && p.head < p.queue.length)) return;
    if (p.cancelled) {
      if (!closing) write(JSON.stringify({ type: 'cancelled', pipeline: p.id }));
    } else if (p.ending) write(JSON.stringify({ type: 'done', pipeline: p.id, succeeded: p.succeeded, failed: p.failed }));
    else return;
    options.diagnosticsWritten?.(p.id, true);
    pipelines.delete(p.id);
    closed.add(p.id);
    if (closed.size > CLOSED_KEPT) closed.delete(closed.values().next().value!);
    if (pipelines.size === 0) {
      idle.start();
      settledWaiter?.();
    }
  };

  const concurrencyOf = (p: Pipeline): number =>
    // Each vault's gate keeps 'concurrency' requests on the wire; twice as many backups may be
    // under way so that writing and fsyncing a file never holds a network slot.
    2 * p.settings.concurrency;

  const start = (p: Pipeline, job: Job): void => {
    p.running++;
    const previous = job.after !== undefined ? p.tails.get(job.after) : undefined;
    const kind = p.settings.kind;
    const work = (previous ?? Promise.resolve()).then(() =>
      options.within(p.id, p.settings.logLevel, (): Promise<BackupOutcome | RestoredItem> =>
        job.op === 'backup'
          ? options.backup({ ...job.request, kind }, p.settings, p.abort.signal)
          : options.restore({ ...job.request, kind }, p.settings, p.abort.signal),
      ),
    );
    const tail = work.then(
      () => undefined,
      () => undefined,
    );
    p.tails.set(job.id, tail);
    work
      .then(
        (outcome) => {
          if (p.cancelled) return;
          p.succeeded++;
          if (job.op === 'backup') {
            const backup = outcome as BackupOutcome;
            write(JSON.stringify({ type: 'result', id: job.id, ok: true, path: backup.path, bytes: backup.bytes, ...logged(p.id) }));
          } else write(JSON.stringify({ type: 'result', id: job.id, ok: true, item: outcome, ...logged(p.id) }));
        },
        (error: unknown) => {
          if (p.cancelled) return;
          p.failed++;
          write(failureLine(p.id, job.id, toBackupError(error, { vaultName: job.request.vaultName, name: job.op === 'backup' ? job.request.name : undefined, kind, operation: job.op }), job.request));
        },
      )
      .finally(() => {
        if (p.tails.get(job.id) === tail) p.tails.delete(job.id);
        p.running--;
        pump(p);
        finishIfDone(p);
      });
  };

  // Accepted requests wait as plain records and only become running work (promises, SDK state,
  // sockets) when a slot frees, so memory stays flat however many lines the module sends ahead.
  const pump = (p: Pipeline): void => {
    if (p.cancelled) return;
    const limit = concurrencyOf(p);
    while (p.running < limit && p.head < p.queue.length) {
      const job = p.queue[p.head]!;
      p.queue[p.head++] = undefined as unknown as Job;
      start(p, job);
    }
    if (p.head > 1024 && p.head * 2 > p.queue.length) {
      p.queue.splice(0, p.head);
      p.head = 0;
    }
  };

  // The idle end wakes the wait for the next line. Each wait gets a promise of its own: racing every
  // line against one long-lived promise would pile a reaction onto it per line, for ever.
  const idle = (() => {
    let timer: { cancel(): void } | undefined;
    let wake: (() => void) | undefined;
    const state = { expired: false };
    return {
      start(): void {
        timer?.cancel();
        state.expired = false;
        timer =
          options.idleTimeoutMs > 0
            ? setTimer(() => {
                state.expired = true;
                wake?.();
              }, options.idleTimeoutMs)
            : undefined;
      },
      stop(): void {
        timer?.cancel();
        timer = undefined;
        state.expired = false;
      },
      /** The read's line, or 'idle' if the idle time passes first. */
      race(read: Promise<IteratorResult<string>>): Promise<IteratorResult<string> | 'idle'> {
        if (state.expired) return Promise.resolve('idle');
        return new Promise<IteratorResult<string> | 'idle'>((resolve, reject) => {
          wake = () => resolve('idle');
          read.then(resolve, reject);
        }).finally(() => {
          wake = undefined;
        });
      },
    };
  })();

  /** Drops the queued work of a pipeline and aborts what is in flight; it is answered once that settles. */
  const cancel = (p: Pipeline): void => {
    p.cancelled = true;
    p.queue = [];
    p.head = 0;
    p.abort.abort();
  };

  const pipelineFor = (id: number, what: string): Pipeline | undefined => {
    const existing = pipelines.get(id);
    if (existing === undefined && !closed.has(id)) return open(id);
    if (existing === undefined || existing.ending || existing.cancelled) {
      protocolError(`'${what}' for pipeline ${id}, which was already ended or cancelled.`);
      return undefined;
    }
    return existing;
  };

  const handle = (message: Incoming): void => {
    switch (message.type) {
      case 'hello':
        protocolError("'hello' was already received.");
        break;
      case 'begin':
        if (pipelines.has(message.pipeline) || closed.has(message.pipeline)) protocolError(`Pipeline ${message.pipeline} was already begun.`);
        else open(message.pipeline, message.settings);
        break;
      case 'token':
        options.supplyToken(message.context, { token: message.token, expiresOnTimestamp: message.expiresOnTimestamp, tenantId: message.tenantId, resource: message.resource });
        logger.debug(`Received a Key Vault token for context '${message.context}' from the module (not shown).`);
        break;
      case 'tokenUnavailable':
        options.declineToken(message.context, message.tenantId, message.message);
        break;
      case 'invalid': {
        const p = pipelineFor(message.pipeline, 'request');
        if (p === undefined) break;
        p.failed++;
        write(failureLine(p.id, message.id, message.error));
        break;
      }
      case 'backup': {
        const p = pipelineFor(message.pipeline, 'backup');
        if (p === undefined) break;
        p.queue.push({ id: message.id, op: 'backup', request: message.request, after: message.after });
        pump(p);
        break;
      }
      case 'restore': {
        const p = pipelineFor(message.pipeline, 'restore');
        if (p === undefined) break;
        p.queue.push({ id: message.id, op: 'restore', request: message.request });
        pump(p);
        break;
      }
      case 'end': {
        const p = pipelineFor(message.pipeline, 'end');
        if (p === undefined) break;
        p.ending = true;
        finishIfDone(p);
        break;
      }
      case 'cancel': {
        const p = pipelines.get(message.pipeline);
        if (p === undefined || p.cancelled) {
          // Nothing of it is left: still answer, so the module never waits for nothing.
          if (p === undefined) write(JSON.stringify({ type: 'cancelled', pipeline: message.pipeline }));
          break;
        }
        cancel(p);
        finishIfDone(p);
        break;
      }
    }
  };

  const iterator = options.lines[Symbol.asyncIterator]();
  idle.start();
  // A read outlives an idle wake-up that finds a pipeline open, so no line is lost.
  let pending: Promise<IteratorResult<string>> | undefined;
  for (;;) {
    pending ??= iterator.next();
    const next = await idle.race(pending);
    if (next === 'idle') {
      if (pipelines.size > 0) {
        idle.stop();
        continue;
      }
      logger.verbose(`No pipeline for ${options.idleTimeoutMs / 1000} s: the session ends.`);
      write(JSON.stringify({ type: 'bye', reason: 'idle' }));
      return EXIT_OK;
    }
    pending = undefined;
    if (next.done === true) break;
    const line = next.value;
    lineNumber++;
    if (pipelines.size === 0) idle.start();
    if (line.trim().length === 0) continue;
    let message: Incoming;
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
        idle.stop();
        return EXIT_PROTOCOL_MISMATCH;
      }
      greeted = true;
      write(helloLine(options.version));
      if (message.features?.includes('tokenRequest') === true) {
        options.enableTokenRequests((context, tenantId) =>
          write(JSON.stringify({ type: 'tokenRequest', ...(context !== '' ? { context } : {}), ...(tenantId !== undefined ? { tenantId } : {}) })),
        );
      }
      logger.debug(`Handshake done with ${message.client ?? 'an unnamed client'} (protocol ${PROTOCOL_VERSION}).`);
      continue;
    }
    handle(message);
  }

  // EOF: the module closed stdin (Remove-Module, PowerShell exiting or killed). A pipeline that was
  // ended finishes and is answered; any other is cancelled at once, as nobody will read its results.
  idle.stop();
  let waiting = 0;
  let cancelled = 0;
  for (const p of pipelines.values()) {
    if (p.ending) continue;
    cancelled++;
    waiting += p.running + p.queue.length - p.head;
    cancel(p);
  }
  if (cancelled > 0) {
    closing = true;
    logger.verbose(`Input ended with ${cancelled} pipeline(s) open; cancelling ${waiting} backup(s) in flight or waiting.`);
  }
  const settled = new Promise<void>((resolve) => {
    settledWaiter = resolve;
  });
  for (const p of [...pipelines.values()]) finishIfDone(p);
  if (pipelines.size > 0) await settled;
  if (cancelled === 0) return EXIT_OK;
  await options.onAbort?.();
  return EXIT_ABORTED;
}

