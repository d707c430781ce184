import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { defaultFileName, resolveTarget } from '../../../src/core/file-name.js';

describe('default file names', () => {
  it('is <vault>-<name>-<epoch seconds with fraction>, lower-cased, like the help page', () => {
    assert.equal(defaultFileName('MyKeyVault', 'MySecret', 1527029447011.91), 'mykeyvault-mysecret-1527029447.01191');
    assert.equal(defaultFileName('v', 'S', 1527029447500), 'v-s-1527029447.5');
    assert.equal(defaultFileName('v', 's', 1527029447000), 'v-s-1527029447');
  });

  it('puts the default name in the given directory, with the platform separator', () => {
    const dir = path.resolve('/backups');
    assert.equal(resolveTarget({ directory: dir }, { vaultName: 'V', name: 'N' }, 1000), path.join(dir, 'v-n-1'));
  });

  it('takes an output file as the file itself: whoever took the path from the user decided it is not a folder', () => {
    const dir = path.resolve('/backups');
    assert.equal(resolveTarget({ outputFile: dir }, { vaultName: 'v', name: 'n' }, 2000), dir);
    assert.equal(resolveTarget({ outputFile: path.join(dir, 'f.blob') }, { vaultName: 'v', name: 'n' }, 2000), path.join(dir, 'f.blob'));
  });

  it('follows Windows path rules when given them', () => {
    assert.equal(resolveTarget({ directory: 'C:\\Users\\u' }, { vaultName: 'v', name: 'n' }, 3000, path.win32), 'C:\\Users\\u\\v-n-3');
  });
});
