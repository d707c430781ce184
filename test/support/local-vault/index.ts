export { startLocalVault } from './server.js';
export type { Fault, FaultMatch, Faults, LocalVault, LocalVaultOptions, Operation, RequestRecord } from './types.js';
export { startBadTlsServer, type BadTlsKind, type BadTlsServer } from './bad-tls.js';
