import { strict as assert } from 'node:assert';
import { BackupError, ERROR_KINDS, type ErrorKind } from '../../../src/core/errors.js';

describe('the error kinds', () => {
  const kinds = Object.keys(ERROR_KINDS) as ErrorKind[];

  it('gives every kind its own exit code, none of them 0, and Internal the generic 1', () => {
    const codes = kinds.map((k) => ERROR_KINDS[k].exitCode);
    assert.equal(new Set(codes).size, codes.length, `exit codes ${codes.join(', ')}`);
    assert.ok(codes.every((c) => Number.isInteger(c) && c > 0 && c < 126), 'a shell reserves 0 and 126 and above');
    assert.equal(ERROR_KINDS.Internal.exitCode, 1);
  });

  it('gives every kind its own errorId', () => {
    const ids = kinds.map((k) => ERROR_KINDS[k].errorId);
    assert.equal(new Set(ids).size, ids.length);
  });

  it("uses PowerShell's ErrorCategory names for the categories", () => {
    // [System.Management.Automation.ErrorCategory]: the module passes the category through as is.
    const powershell = ['NotSpecified', 'InvalidArgument', 'ObjectNotFound', 'PermissionDenied', 'AuthenticationError', 'LimitsExceeded', 'ConnectionError', 'ResourceExists', 'WriteError', 'InvalidOperation', 'InvalidData', 'ResourceUnavailable'];
    for (const k of kinds) assert.ok(powershell.includes(ERROR_KINDS[k].category), `${k}: ${ERROR_KINDS[k].category}`);
  });
});

describe('a backup error', () => {
  it("carries its kind's errorId, category and exit code", () => {
    const error = new BackupError('NotFound', 'Secret not found: s.', { code: 'SecretNotFound', status: 404 });
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'BackupError');
    assert.equal(error.message, 'Secret not found: s.');
    assert.equal(error.errorId, 'SecretNotFound');
    assert.equal(error.category, 'ObjectNotFound');
    assert.equal(error.exitCode, 3);
    assert.equal(error.code, 'SecretNotFound');
    assert.equal(error.status, 404);
  });

  it('may name its own errorId and keeps the category and exit code of its kind', () => {
    const error = new BackupError('Protocol', 'Protocol 1 is not 2.', { errorId: 'ProtocolVersionMismatch' });
    assert.equal(error.errorId, 'ProtocolVersionMismatch');
    assert.equal(error.category, ERROR_KINDS.Protocol.category);
    assert.equal(error.exitCode, ERROR_KINDS.Protocol.exitCode);
  });

  it('serialises to the fields of the protocol, leaving out a code or status it has not got', () => {
    assert.deepEqual(JSON.parse(JSON.stringify(new BackupError('Io', 'Could not write.'))), { kind: 'Io', errorId: 'WriteFailed', category: 'WriteError', message: 'Could not write.' });
    assert.deepEqual(new BackupError('Throttled', 'Slow down.', { code: 'Throttled', status: 429 }).toJSON(), {
      kind: 'Throttled',
      errorId: 'Throttled',
      category: 'LimitsExceeded',
      message: 'Slow down.',
      code: 'Throttled',
      status: 429,
    });
  });

  it('never serialises its stack', () => {
    assert.ok(!('stack' in new BackupError('Internal', 'x').toJSON()));
  });
});
