import { strict as assert } from 'node:assert';
import { LOG_LEVELS, silentLogger } from '../../../src/core/logger.js';

describe('the log levels', () => {
  it('go from least to most said: warning, verbose, debug', () => {
    assert.deepEqual(LOG_LEVELS, ['warning', 'verbose', 'debug']);
  });

  it('have a logger that says nothing at any of them', () => {
    for (const level of LOG_LEVELS) assert.equal(silentLogger[level]('anything'), undefined);
  });
});
