export { startLocalVault } from './server.js';
export type { Fault, FaultMatch, Faults, LocalVault, LocalVaultOptions, Operation, RequestRecord } from './types.js';
