import { strict as assert } from 'node:assert';
import { backoffMs, isAttemptTimeout, isTruncatedAnswer } from '../../src/core/transient-faults.js';

describe('transient faults', () => {
  it('backs off about 1, 2, 4, 8, 16 s with jitter, capped', () => {
    const options = { retryDelayMs: 1000, maxRetryDelayMs: 16000 };
    assert.deepEqual([0, 1, 2, 3, 4, 5].map((a) => backoffMs(a, { ...options, random: () => 0.5 })), [1000, 2000, 4000, 8000, 16000, 16000]);
    assert.equal(backoffMs(0, { ...options, random: () => 0 }), 800);
    assert.equal(backoffMs(0, { ...options, random: () => 1 }), 1200);
  });

  it('tells a timed-out attempt from a cancellation the caller asked for', () => {
    const abort = { name: 'AbortError', message: 'The operation was aborted.' };
    assert.ok(isAttemptTimeout(abort, { timeout: 1000, abortSignal: undefined }));
    assert.ok(isAttemptTimeout(abort, { timeout: 1000, abortSignal: { aborted: false } as AbortSignal }));
    assert.ok(!isAttemptTimeout(abort, { timeout: 1000, abortSignal: { aborted: true } as AbortSignal }));
    assert.ok(!isAttemptTimeout(abort, { timeout: 0, abortSignal: undefined }));
    assert.ok(!isAttemptTimeout({ name: 'RestError' }, { timeout: 1000, abortSignal: undefined }));
  });

  it('recognises an answer cut off mid-body, and only that', () => {
    assert.ok(isTruncatedAnswer({ name: 'RestError', code: 'PARSE_ERROR', message: 'Error reading response as text: aborted' }));
    assert.ok(!isTruncatedAnswer({ name: 'RestError', code: 'PARSE_ERROR', statusCode: 200 }));
    assert.ok(!isTruncatedAnswer({ name: 'RestError', code: 'ECONNRESET' }));
    assert.ok(!isTruncatedAnswer(undefined));
  });
});
