import { startLocalVault, type LocalVault } from './local-vault/index.js';

let vault: LocalVault | undefined;

/** The one local vault of this mocha run, started by the root hook below. */
export function sharedVault(): LocalVault {
  if (!vault) {
    throw new Error('The shared local vault is not running: run mocha with --require out/test/support/hooks.js');
  }
  return vault;
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    // First start generates the CA with openssl; give it room on a slow machine.
    this.timeout(30_000);
    vault ??= await startLocalVault();
  },
  async afterAll(): Promise<void> {
    const running = vault;
    vault = undefined;
    await running?.close();
  },
};
