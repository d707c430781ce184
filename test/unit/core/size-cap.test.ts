import { strict as assert } from 'node:assert';
import { getEventListeners } from 'node:events';
import { Readable } from 'node:stream';
import { createHttpHeaders, createPipelineRequest, type PipelineRequest, type PipelineResponse } from '@azure/core-rest-pipeline';
import { BackupError } from '../../../src/core/errors.js';
import { sizeCapPolicy } from '../../../src/core/size-cap.js';

// The policy alone: a real pipeline request, and as the next policy a stand-in for the HTTP client
// that answers with a Node stream, as the SDK's client does when asked to stream.

const CAP = 1024;

function request(options: { timeout?: number; abortSignal?: AbortSignal } = {}): PipelineRequest {
  return createPipelineRequest({ url: 'https://myvault.vault.azure.net/secrets/s/backup?api-version=7.5', method: 'POST', ...options });
}

/** A response whose body is `stream`; `contentLength` as the server declared it (none by default). */
function answer(req: PipelineRequest, stream: NodeJS.ReadableStream | undefined, contentLength?: number, status = 200): PipelineResponse {
  const headers = createHttpHeaders({ 'content-type': 'application/json', ...(contentLength !== undefined ? { 'content-length': String(contentLength) } : {}) });
  return { request: req, status, headers, readableStreamBody: stream };
}

/** A body of `chunks` chunks of `size` bytes, counting how many were read and whether it was destroyed. */
function counted(chunks: number, size: number, fill = 'a'): { stream: Readable; read: () => number; destroyed: () => boolean } {
  let read = 0;
  // No read-ahead beyond what the consumer asks for, so `read` counts what the policy pulled.
  const stream = new Readable({
    highWaterMark: 1,
    read() {
      if (read >= chunks) {
        this.push(null);
        return;
      }
      read++;
      this.push(Buffer.alloc(size, fill));
    },
  });
  return { stream, read: () => read, destroyed: () => stream.destroyed };
}

const tooLarge = (status: number) => (e: unknown) =>
  e instanceof BackupError && e.kind === 'Service' && e.code === 'ResponseTooLarge' && e.status === status && e.message.includes(`${CAP}-byte limit`);

describe('the response size cap', () => {
  it('hands a body under the cap on as text and drops the stream', async () => {
    const req = request();
    const response = await sizeCapPolicy(CAP).sendRequest(req, async (r) => answer(r, Readable.from([Buffer.from('{"value":'), Buffer.from('"abc"}')])));
    assert.equal(response.bodyAsText, '{"value":"abc"}');
    assert.equal(response.readableStreamBody, undefined);
    assert.equal(response.status, 200);
  });

  it('accepts a body of exactly the cap', async () => {
    const body = counted(4, CAP / 4);
    const response = await sizeCapPolicy(CAP).sendRequest(request(), async (r) => answer(r, body.stream, CAP));
    assert.equal(response.bodyAsText?.length, CAP);
  });

  it('decodes UTF-8 split across chunks as one text', async () => {
    const bytes = Buffer.from('{"value":"é€😀"}', 'utf8');
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    const response = await sizeCapPolicy(CAP).sendRequest(request(), async (r) => answer(r, Readable.from(chunks)));
    assert.equal(response.bodyAsText, '{"value":"é€😀"}');
  });

  it('asks the HTTP client to stream every answer, and gives the request back as it came', async () => {
    const req = request();
    const before = req.streamResponseStatusCodes;
    let asked: Set<number> | undefined;
    await sizeCapPolicy(CAP).sendRequest(req, async (r) => {
      asked = r.streamResponseStatusCodes;
      return answer(r, Readable.from([Buffer.from('{}')]));
    });
    assert.ok(asked?.has(Number.POSITIVE_INFINITY), 'every status streams (the client checks has(POSITIVE_INFINITY))');
    assert.equal(req.streamResponseStatusCodes, before, 'the request goes back up the pipeline unchanged');
  });

  it('gives the request back unchanged when the HTTP client fails', async () => {
    const req = request();
    req.streamResponseStatusCodes = new Set([200]);
    const before = req.streamResponseStatusCodes;
    await assert.rejects(
      sizeCapPolicy(CAP).sendRequest(req, async () => {
        throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      }),
      /ECONNREFUSED/,
    );
    assert.equal(req.streamResponseStatusCodes, before);
  });

  it('refuses an answer whose Content-Length is over the cap without reading it (oversized)', async () => {
    const body = counted(10, CAP);
    await assert.rejects(sizeCapPolicy(CAP).sendRequest(request(), async (r) => answer(r, body.stream, CAP + 1)), tooLarge(200));
    assert.equal(body.read(), 0, 'not a byte read');
    assert.ok(body.destroyed(), 'the connection is let go');
  });

  it('stops reading a body over the cap (oversized), without Content-Length', async () => {
    // Far more than the cap is on offer; reading stops at the first chunk past it.
    const body = counted(1_000, 256);
    await assert.rejects(sizeCapPolicy(CAP).sendRequest(request(), async (r) => answer(r, body.stream)), tooLarge(200));
    assert.ok(body.read() <= CAP / 256 + 3, `read ${body.read()} chunks of 256 bytes for a ${CAP}-byte cap`);
    assert.ok(body.destroyed(), 'the connection is let go');
  });

  it('does not trust a Content-Length under the cap: a longer body is still stopped at the cap (oversized)', async () => {
    const body = counted(1_000, 256);
    await assert.rejects(sizeCapPolicy(CAP).sendRequest(request(), async (r) => answer(r, body.stream, 10)), tooLarge(200));
    assert.ok(body.read() <= CAP / 256 + 3);
  });

  it('caps error answers too, and says which status the oversized answer had', async () => {
    const body = counted(1_000, 256);
    await assert.rejects(sizeCapPolicy(CAP).sendRequest(request(), async (r) => answer(r, body.stream, undefined, 500)), tooLarge(500));
  });

  it('passes an answer without a body stream on untouched', async () => {
    const req = request();
    const original = answer(req, undefined);
    original.bodyAsText = 'as the client left it';
    const response = await sizeCapPolicy(CAP).sendRequest(req, async () => original);
    assert.equal(response, original);
    assert.equal(response.bodyAsText, 'as the client left it');
  });

  it('turns a body cut off before its end into a network fault the retry policy knows (RestError, ECONNRESET)', async () => {
    const stream = new Readable({ read() {} });
    stream.push(Buffer.from('{"value":"ab'));
    setImmediate(() => stream.destroy(new Error('socket hang up')));
    await assert.rejects(sizeCapPolicy(CAP).sendRequest(request(), async (r) => answer(r, stream)), (e: unknown) => {
      const error = e as { name?: string; code?: string; message?: string };
      return error.name === 'RestError' && error.code === 'ECONNRESET' && /cut off before its end \(socket hang up\)/.test(error.message ?? '');
    });
  });

  it("keeps a cut-off body's own error code", async () => {
    const stream = new Readable({ read() {} });
    setImmediate(() => stream.destroy(Object.assign(new Error('read EPIPE'), { code: 'EPIPE' })));
    await assert.rejects(sizeCapPolicy(CAP).sendRequest(request(), async (r) => answer(r, stream)), (e: unknown) => (e as { name?: string }).name === 'RestError' && (e as { code?: string }).code === 'EPIPE');
  });

  it('times out a body that stops arriving, after the request timeout (RestError, ETIMEDOUT)', async () => {
    const stream = new Readable({ read() {} });
    stream.push(Buffer.from('{"value":"'));
    const started = Date.now();
    await assert.rejects(sizeCapPolicy(CAP).sendRequest(request({ timeout: 100 }), async (r) => answer(r, stream)), (e: unknown) => {
      const error = e as { name?: string; code?: string; message?: string };
      return error.name === 'RestError' && error.code === 'ETIMEDOUT' && /did not finish its answer within \d+ s/.test(error.message ?? '');
    });
    const ms = Date.now() - started;
    assert.ok(ms >= 90 && ms < 5_000, `gave up after ${ms} ms`);
    assert.ok(stream.destroyed);
  });

  it('stops reading when the caller cancels mid-body (AbortError), and stops listening to the signal', async () => {
    const controller = new AbortController();
    const signal = controller.signal;
    const stream = new Readable({ read() {} });
    stream.push(Buffer.from('{"value":"'));
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(sizeCapPolicy(CAP).sendRequest(request({ abortSignal: signal }), async (r) => answer(r, stream)), (e: unknown) => (e as { name?: string }).name === 'AbortError');
    assert.ok(stream.destroyed);
    assert.equal(getEventListeners(signal, 'abort').length, 0, 'no listener left on a signal that may outlive the request');
  });
});
