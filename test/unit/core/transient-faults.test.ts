import { strict as assert } from 'node:assert';
import { createHttpHeaders, createPipelineRequest, RestError, retryPolicy, type PipelineResponse } from '@azure/core-rest-pipeline';
import { attemptTimeoutPolicy, backoffMs, isAttemptTimeout, retryAfterMs, retryWaitMs, vaultRetryStrategy } from '../../../src/core/transient-faults.js';

const TIMING = { retryDelayMs: 1000, maxRetryDelayMs: 16000, random: () => 0.5 };

function answer(status: number, values: Record<string, string> = {}): Pick<PipelineResponse, 'status' | 'headers'> {
  return { status, headers: createHttpHeaders(values) };
}

describe('transient faults', () => {
  it('backs off about 1, 2, 4, 8, 16 s with jitter, capped', () => {
    const options = { retryDelayMs: 1000, maxRetryDelayMs: 16000 };
    assert.deepEqual([0, 1, 2, 3, 4, 5].map((a) => backoffMs(a, { ...options, random: () => 0.5 })), [1000, 2000, 4000, 8000, 16000, 16000]);
    assert.equal(backoffMs(0, { ...options, random: () => 0 }), 800);
    assert.equal(backoffMs(0, { ...options, random: () => 1 }), 1200);
  });

  it('reads Retry-After in seconds or as a date, and retry-after-ms', () => {
    assert.equal(retryAfterMs(answer(429, { 'retry-after': '3' })), 3_000);
    assert.equal(retryAfterMs(answer(429, { 'retry-after-ms': '250', 'retry-after': '3' })), 250);
    assert.equal(retryAfterMs(answer(429, { 'x-ms-retry-after-ms': '40' })), 40);
    const date = retryAfterMs(answer(429, { 'retry-after': new Date(Date.now() + 10_000).toUTCString() }));
    assert.ok(date !== undefined && date > 8_000 && date <= 10_000, String(date));
    assert.equal(retryAfterMs(answer(429)), undefined);
    assert.equal(retryAfterMs(answer(429, { 'retry-after': 'soon' })), undefined);
  });

  it('waits as a 429 or 503 with Retry-After says, even when it says 0', () => {
    assert.equal(retryWaitMs({ retryCount: 3, response: answer(429, { 'retry-after': '2' }) }, TIMING), 2_000);
    assert.equal(retryWaitMs({ retryCount: 0, response: answer(503, { 'retry-after-ms': '50' }) }, TIMING), 50);
    assert.equal(retryWaitMs({ retryCount: 0, response: answer(429, { 'retry-after-ms': '0' }) }, TIMING), 0);
  });

  it('backs off exponentially for a 429 without a wait, 408, 500, 502, 503 and 504, by the retries made so far', () => {
    for (const status of [429, 408, 500, 502, 503, 504]) {
      assert.deepEqual([0, 1, 2].map((retryCount) => retryWaitMs({ retryCount, response: answer(status) }, TIMING)), [1000, 2000, 4000], String(status));
    }
    // A 500 that names a wait is still a server fault: backed off, not told.
    assert.equal(retryWaitMs({ retryCount: 0, response: answer(500, { 'retry-after': '30' }) }, TIMING), 1000);
  });

  it('does not retry answers that another attempt would not change', () => {
    for (const status of [200, 400, 401, 403, 404, 409, 501, 505]) {
      assert.equal(retryWaitMs({ retryCount: 0, response: answer(status) }, TIMING), undefined, String(status));
    }
  });

  it('backs off for transport faults (reset, refused, timed out, name not found) and not for others', () => {
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'ENOTFOUND']) {
      assert.equal(retryWaitMs({ retryCount: 1, responseError: { code } }, TIMING), 2000, code);
    }
    for (const code of ['ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'REQUEST_SEND_ERROR', undefined]) {
      assert.equal(retryWaitMs({ retryCount: 0, responseError: { code } }, TIMING), undefined, String(code));
    }
  });

  it('tells a timed-out attempt from a cancellation the caller asked for', () => {
    const abort = { name: 'AbortError', message: 'The operation was aborted.' };
    assert.ok(isAttemptTimeout(abort, { timeout: 1000, abortSignal: undefined }));
    assert.ok(isAttemptTimeout(abort, { timeout: 1000, abortSignal: { aborted: false } as AbortSignal }));
    assert.ok(!isAttemptTimeout(abort, { timeout: 1000, abortSignal: { aborted: true } as AbortSignal }));
    assert.ok(!isAttemptTimeout(abort, { timeout: 0, abortSignal: undefined }));
    assert.ok(!isAttemptTimeout({ name: 'RestError' }, { timeout: 1000, abortSignal: undefined }));
  });
});

describe("the SDK's retry policy with the vault strategy", () => {
  const FAST = { retryDelayMs: 1, maxRetryDelayMs: 4 };

  /** The SDK's own retryPolicy and the timeout policy, over a transport that plays `script` one attempt at a time. */
  async function run(script: Array<number | Error>, maxRetries: number): Promise<{ attempts: number; status?: number; error?: { name?: string; code?: string; message?: string } }> {
    const request = createPipelineRequest({ url: 'https://v.vault.azure.net/secrets/s/backup', method: 'POST', timeout: 1500 });
    const retry = retryPolicy([vaultRetryStrategy(FAST)], { maxRetries });
    const timeout = attemptTimeoutPolicy(RestError);
    let attempts = 0;
    const transport = async () => {
      const step = script[Math.min(attempts++, script.length - 1)]!;
      if (step instanceof Error) throw step;
      return { status: step, headers: createHttpHeaders(step === 429 ? { 'retry-after-ms': '1' } : {}), request };
    };
    const outcome = await retry.sendRequest(request, (r) => timeout.sendRequest(r, transport)).then(
      (response) => ({ status: response.status }),
      (error: unknown) => ({ error: error as { name?: string; code?: string; message?: string } }),
    );
    return { ...outcome, attempts };
  }

  const abortError = (): Error => Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' });

  it('retries until an answer is served, and makes at most --max-retries retries', async () => {
    assert.deepEqual(await run([429, 503, 500, 200], 5), { status: 200, attempts: 4 });
    assert.deepEqual(await run([429], 2), { status: 429, attempts: 3 });
    assert.deepEqual(await run([500], 0), { status: 500, attempts: 1 });
  });

  it('hands back an answer that is not retried after one attempt', async () => {
    assert.deepEqual(await run([404, 200], 5), { status: 404, attempts: 1 });
  });

  it('retries a timed-out attempt, and after the last one fails with ETIMEDOUT naming the timeout', async () => {
    assert.deepEqual(await run([abortError(), 200], 5), { status: 200, attempts: 2 });
    const given = await run([abortError()], 1);
    assert.equal(given.attempts, 2);
    assert.equal(given.error?.name, 'RestError');
    assert.equal(given.error?.code, 'ETIMEDOUT');
    assert.match(given.error?.message ?? '', /did not answer within 2 s/);
  });

  it('retries a reset connection, and gives up at once on an error that is not a transport fault', async () => {
    assert.deepEqual(await run([new RestError('socket hang up', { code: 'ECONNRESET' }), 200], 5), { status: 200, attempts: 2 });
    const tls = await run([new RestError('certificate has expired', { code: 'CERT_HAS_EXPIRED' }), 200], 5);
    assert.equal(tls.attempts, 1);
    assert.equal(tls.error?.code, 'CERT_HAS_EXPIRED');
    const ours = await run([Object.assign(new Error('too large'), { name: 'BackupError' }), 200], 5);
    assert.equal(ours.attempts, 1);
  });
});
