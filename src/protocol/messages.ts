import { BackupError } from '../core/errors.js';
import type { BackupRequest } from '../core/backup.js';
import { parseItemKind, type ItemKind } from '../core/item-kind.js';
import { LOG_LEVELS, type LogLevel } from '../core/logger.js';
import type { RestoreRequest } from '../core/restore.js';

/** Bumped on any incompatible change to docs/protocol.md. */
export const PROTOCOL_VERSION = 3;

/** The pipeline a line without a 'pipeline' field belongs to: begun implicitly with the command line's settings. */
export const DEFAULT_PIPELINE = 0;


/** A protocol line longer than this is refused unread, so no input can exhaust memory. */
export const MAX_LINE_LENGTH = 64 * 1024;

export type RequestId = string | number;

/** What one pipeline of the module uses throughout: sent once, in its 'begin'. */
export interface PipelineSettings {
  /** Whose tokens it uses: '' is the executable's own sign-in; any other value names one Az context of the module. */
  context: string;
  /** What every item of the pipeline is: one cmdlet, one kind (a secret by default). */
  kind?: ItemKind;
  dnsSuffix?: string;
  concurrency?: number;
  logLevel?: LogLevel;
}

export type Incoming =
  | { type: 'hello'; protocol: number; client?: string; features?: string[] }
  | { type: 'begin'; pipeline: number; settings: PipelineSettings }
  | { type: 'backup'; pipeline: number; id: RequestId; request: BackupRequest; after?: RequestId }
  | { type: 'restore'; pipeline: number; id: RequestId; request: RestoreRequest }
  /** A backup or restore whose id is readable but whose fields are not: it still gets its result. */
  | { type: 'invalid'; pipeline: number; id: RequestId; error: BackupError }
  | { type: 'token'; context: string; token: string; expiresOnTimestamp: number; tenantId?: string; resource?: string }
  | { type: 'tokenUnavailable'; context: string; tenantId?: string; message?: string }
  | { type: 'cancel'; pipeline: number }
  | { type: 'end'; pipeline: number };

function isId(value: unknown): value is RequestId {
  return (typeof value === 'string' && value.length > 0 && value.length <= 200) || (typeof value === 'number' && Number.isFinite(value));
}

function pipelineOf(body: Record<string, unknown>): number {
  const value = body.pipeline;
  if (value === undefined) return DEFAULT_PIPELINE;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 2 ** 31) {
    throw new BackupError('Protocol', "'pipeline' must be a whole number from 0.");
  }
  return value;
}

function contextOf(body: Record<string, unknown>): string {
  const value = body.context;
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string' || value.length > 200) throw new BackupError('Protocol', "'context' must be a short string.");
  return value;
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new BackupError('InvalidArgument', `'${key}' must be a string.`);
  return value;
}

/**
 * Pure: one line in, one message out, or a BackupError of kind Protocol.
 * A backup or restore request whose id is readable but whose fields are wrong
 * becomes 'invalid', so the module still gets a result for that id.
 */
export function parseLine(raw: string): Incoming {
  // Windows PowerShell 5.1 may put a UTF-8 BOM before the first line it writes.
  const line = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
  if (line.length > MAX_LINE_LENGTH) {
    throw new BackupError('Protocol', `The line is longer than ${MAX_LINE_LENGTH} characters.`);
  }
  let body: unknown;
  try {
    body = JSON.parse(line);
  } catch {
    throw new BackupError('Protocol', 'The line is not valid JSON.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BackupError('Protocol', 'The line is not a JSON object.');
  }
  const message = body as Record<string, unknown>;
  switch (message.type) {
    case 'hello':
      if (typeof message.protocol !== 'number' || !Number.isInteger(message.protocol)) {
        throw new BackupError('Protocol', "'hello' needs an integer 'protocol'.");
      }
      return {
        type: 'hello',
        protocol: message.protocol,
        client: typeof message.client === 'string' ? message.client : undefined,
        // Optional abilities of the module (protocol 1 stays compatible: an older module sends none).
        ...(Array.isArray(message.features) ? { features: message.features.filter((f): f is string => typeof f === 'string') } : {}),
      };
    case 'end':
      return { type: 'end', pipeline: pipelineOf(message) };
    case 'cancel':
      return { type: 'cancel', pipeline: pipelineOf(message) };
    case 'begin': {
      const settings: PipelineSettings = { context: contextOf(message) };
      if (message.kind !== undefined) settings.kind = parseItemKind(message.kind);
      if (message.dnsSuffix !== undefined && message.dnsSuffix !== null) {
        if (typeof message.dnsSuffix !== 'string') throw new BackupError('Protocol', "'dnsSuffix' must be a string.");
        settings.dnsSuffix = message.dnsSuffix;
      }
      if (message.concurrency !== undefined) {
        const c = message.concurrency;
        if (typeof c !== 'number' || !Number.isInteger(c) || c < 1 || c > 64) throw new BackupError('Protocol', "'concurrency' must be a whole number from 1 to 64.");
        settings.concurrency = c;
      }
      if (message.logLevel !== undefined) {
        if (typeof message.logLevel !== 'string' || !(LOG_LEVELS as readonly string[]).includes(message.logLevel)) {
          throw new BackupError('Protocol', "'logLevel' must be warning, verbose or debug.");
        }
        settings.logLevel = message.logLevel as LogLevel;
      }
      return { type: 'begin', pipeline: pipelineOf(message), settings };
    }
    case 'token': {
      if (typeof message.token !== 'string' || message.token.length === 0 || message.token.length > 16384) {
        throw new BackupError('Protocol', "'token' needs a non-empty 'token' string.");
      }
      if (typeof message.expiresOn !== 'number' || !Number.isFinite(message.expiresOn)) {
        throw new BackupError('Protocol', "'token' needs 'expiresOn' in epoch seconds.");
      }
      return {
        type: 'token',
        context: contextOf(message),
        token: message.token,
        expiresOnTimestamp: message.expiresOn * 1000,
        tenantId: typeof message.tenantId === 'string' && message.tenantId.length > 0 ? message.tenantId : undefined,
        resource: typeof message.resource === 'string' && /^https:\/\/[^\s]+$/i.test(message.resource) ? message.resource : undefined,
      };
    }
    case 'tokenUnavailable':
      return {
        type: 'tokenUnavailable',
        context: contextOf(message),
        tenantId: typeof message.tenantId === 'string' && message.tenantId.length > 0 ? message.tenantId : undefined,
        message: typeof message.message === 'string' ? message.message.slice(0, 2000) : undefined,
      };
    case 'backup': {
      if (!isId(message.id)) throw new BackupError('Protocol', "'backup' needs an 'id' (a number or a short string).");
      const id = message.id;
      const pipeline = pipelineOf(message);
      if (message.after !== undefined && !isId(message.after)) throw new BackupError('Protocol', "'after' must be the id of an earlier request.");
      const after = message.after as RequestId | undefined;
      try {
        if (message.force !== undefined && typeof message.force !== 'boolean') {
          throw new BackupError('InvalidArgument', "'force' must be true or false.");
        }
        const request: BackupRequest = {
          vaultName: optionalString(message, 'vaultName'),
          ...(message.hsmName !== undefined ? { hsmName: optionalString(message, 'hsmName') } : {}),
          name: optionalString(message, 'name'),
          secretId: optionalString(message, 'secretId'),
          outputFile: optionalString(message, 'outputFile'),
          directory: optionalString(message, 'directory'),
          force: message.force === true,
        };
        return { type: 'backup', pipeline, id, request, ...(after !== undefined ? { after } : {}) };
      } catch (error) {
        return { type: 'invalid', pipeline, id, error: error as BackupError };
      }
    }
    case 'restore': {
      if (!isId(message.id)) throw new BackupError('Protocol', "'restore' needs an 'id' (a number or a short string).");
      const id = message.id;
      const pipeline = pipelineOf(message);
      try {
        const inputFile = optionalString(message, 'inputFile');
        if (inputFile === undefined) throw new BackupError('InvalidArgument', "'restore' needs an 'inputFile'.");
        const request: RestoreRequest = {
          vaultName: optionalString(message, 'vaultName'),
          ...(message.hsmName !== undefined ? { hsmName: optionalString(message, 'hsmName') } : {}),
          inputFile,
        };
        return { type: 'restore', pipeline, id, request };
      } catch (error) {
        return { type: 'invalid', pipeline, id, error: error as BackupError };
      }
    }
    default:
      throw new BackupError('Protocol', `Unknown message type ${JSON.stringify(message.type)}.`);
  }
}

export function helloLine(version: string): string {
  return JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, version });
}
