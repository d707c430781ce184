export { startLocalVault } from './server.js';
export type {
  CertificateSeed,
  Fault,
  FaultMatch,
  Faults,
  ItemKind,
  ItemSeed,
  ItemState,
  KeySeed,
  LocalVault,
  LocalVaultOptions,
  Operation,
  RequestRecord,
  SeededVersion,
  VaultScope,
  Where,
} from './types.js';
export { startBadTlsServer, type BadTlsKind, type BadTlsServer } from './bad-tls.js';
