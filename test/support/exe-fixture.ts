import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { sharedVault } from './hooks.js';
import type { LocalVault } from './local-vault/index.js';
import { exeEnv } from './run-exe.js';
import { useSharedVault } from './vault-fixture.js';

export interface ExeFixture {
  readonly vault: LocalVault;
  /** A fresh, empty directory per test. */
  readonly dir: string;
  /** The environment that points the executable at the local vault and nothing else. */
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Registers the hooks every executable test needs: the shared vault's (useSharedVault) and per
 * test a fresh directory, so each test's assertions on files and on the log see only its own doing.
 */
export function useExeFixture(prefix: string): ExeFixture {
  const shared = useSharedVault();
  let dir: string | undefined;
  let env: NodeJS.ProcessEnv | undefined;
  before(() => {
    env = exeEnv(sharedVault().env());
  });
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), prefix));
  });
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  return {
    get vault() {
      return shared.vault;
    },
    get dir() {
      return dir!;
    },
    get env() {
      return env!;
    },
  };
}
