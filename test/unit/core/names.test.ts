import { strict as assert } from 'node:assert';
import { validateSecretName, validateVaultName } from '../../../src/core/names.js';
import { BackupError } from '../../../src/core/errors.js';

function rejects(fn: () => unknown): BackupError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof BackupError);
    assert.equal(error.kind, 'InvalidArgument');
    return error;
  }
  assert.fail('expected an InvalidArgument error');
}

describe('vault and secret names', () => {
  it('accepts names that follow the service rules', () => {
    for (const ok of ['abc', 'MyKeyVault', 'a-b-c', 'a1234567890123456789012b']) assert.equal(validateVaultName(ok), ok);
    for (const ok of ['a', 'MySecret', '0-9', 'x'.repeat(127), '-leading-hyphen-']) assert.equal(validateSecretName(ok), ok);
  });

  it('rejects vault names that break the rules, naming the bad value', () => {
    const bad = ['', 'ab', 'x'.repeat(25), '1abc', 'a--b', 'abc-', 'a_b', 'a b', 'a/b', 'ab..', 'abc\u0000', 'abc%2F'];
    for (const name of bad) {
      const error = rejects(() => validateVaultName(name));
      if (name.length > 0) assert.ok(error.message.includes(JSON.stringify(name).slice(0, 20)), error.message);
    }
    rejects(() => validateVaultName(null));
    rejects(() => validateVaultName(undefined));
    rejects(() => validateVaultName(42));
  });

  it('rejects secret names with separators, traversal, queries, escapes, spaces, control characters or too long', () => {
    for (const name of ['', 'a/b', '..', 'a?b', 'a#b', 'a%2Fb', 'a b', 'a\tb', 'a\nb', 'x'.repeat(128), 'ä', 'a.b', 'a_b', '\u202e']) {
      rejects(() => validateSecretName(name));
    }
  });

  it('shows control characters visibly in the message', () => {
    const error = rejects(() => validateSecretName('a\nb'));
    assert.ok(error.message.includes('"a\\nb"'));
  });
});
