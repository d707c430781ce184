import { sharedVault } from './hooks.js';
import type { LocalVault } from './local-vault/index.js';

/** The local vault's linger after a purge when a test has not changed it. */
export const DEFAULT_PURGE_LINGER_MS = 2_000;

/**
 * Registers the hooks every test of the shared local vault needs: per test no faults and an empty
 * request log (so assertions on the log see only the test's own doing), and afterwards the
 * vault's settings back as they were (faults, the purge linger).
 */
export function useSharedVault(): { readonly vault: LocalVault } {
  let vault: LocalVault | undefined;
  beforeEach(() => {
    vault = sharedVault();
    vault.faults.clear();
    vault.clearRequests();
  });
  afterEach(() => {
    vault?.faults.clear();
    vault?.setPurgeLinger(DEFAULT_PURGE_LINGER_MS);
  });
  return {
    // Also for a suite's own before hook, which runs ahead of the first beforeEach.
    get vault() {
      return (vault ??= sharedVault());
    },
  };
}
