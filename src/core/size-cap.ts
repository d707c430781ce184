import type { PipelinePolicy, PipelineRequest } from '@azure/core-rest-pipeline';
import { BackupError } from './errors.js';

function tooLarge(maxBytes: number, status: number): BackupError {
  return new BackupError('Service', `The vault's answer is larger than the ${maxBytes}-byte limit; refusing it.`, {
    code: 'ResponseTooLarge',
    status,
  });
}

/** A fault while reading the body, labelled so the SDK's retry policy retries it like a reset. */
function readFault(code: string, message: string): Error {
  return Object.assign(new Error(message), { name: 'RestError', code });
}

/**
 * Reads every answer itself, counting bytes as they arrive, so an answer over
 * the cap is refused on its Content-Length or as soon as it passes the cap:
 * memory stays bounded whatever a server sends. The body is then handed on
 * as text, as the HTTP client would have. The per-attempt timeout and the
 * caller's cancellation cover the body too.
 */
export function sizeCapPolicy(maxBytes: number): PipelinePolicy {
  return {
    name: 'azkvbSizeCap',
    async sendRequest(request, next) {
      const previous = request.streamResponseStatusCodes;
      request.streamResponseStatusCodes = new Set([Number.POSITIVE_INFINITY]);
      let response;
      try {
        response = await next(request);
      } finally {
        // The same request object goes back up the pipeline: it must not ask for a stream there.
        request.streamResponseStatusCodes = previous;
      }
      const stream = response.readableStreamBody;
      const declared = Number(response.headers.get('content-length') ?? '0');
      if (declared > maxBytes) {
        (stream as (NodeJS.ReadableStream & { destroy(): void }) | undefined)?.destroy();
        throw tooLarge(maxBytes, response.status);
      }
      if (stream === undefined) return response;
      response.bodyAsText = await readCapped(stream, maxBytes, response.status, request);
      response.readableStreamBody = undefined;
      return response;
    },
  };
}

async function readCapped(stream: NodeJS.ReadableStream, maxBytes: number, status: number, request: Pick<PipelineRequest, 'timeout' | 'abortSignal'>): Promise<string> {
  const readable = stream as NodeJS.ReadableStream & { destroy(error?: Error): void };
  const chunks: Buffer[] = [];
  let total = 0;
  let timer: NodeJS.Timeout | undefined;
  const stop = (error: Error): void => readable.destroy(error);
  const onAbort = (): void => stop(Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' }));
  if (request.timeout > 0) {
    timer = setTimeout(() => stop(readFault('ETIMEDOUT', `The vault did not finish its answer within ${Math.round(request.timeout / 1000)} s.`)), request.timeout);
  }
  request.abortSignal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of readable) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      total += buffer.length;
      if (total > maxBytes) {
        readable.destroy();
        throw tooLarge(maxBytes, status);
      }
      chunks.push(buffer);
    }
  } catch (error) {
    if (error instanceof BackupError) throw error;
    const e = error as { name?: string; code?: string; message?: string };
    if (e.name === 'AbortError' || e.name === 'RestError') throw error;
    // A connection reset or close mid-body: a network fault the retry policy retries.
    throw readFault(e.code ?? 'ECONNRESET', `The vault's answer was cut off before its end (${e.message ?? 'stream error'}).`);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    request.abortSignal?.removeEventListener('abort', onAbort);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}
