import { COLLECTIONS, type Space } from './kinds.js';
import type { ItemKind, Operation } from './types.js';

export const SECRET_NAME = /^[0-9A-Za-z-]{1,127}$/;
export const VAULT_NAME = /^(?!.*--)[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$/;

const HOST_VAULT = /^([^.:[\]]+)\.(?:localhost|vault\.azure\.net|vault\.azure\.cn|vault\.usgovcloudapi\.net)(?::\d+)?$/i;
const HOST_HSM = /^([^.:[\]]+)\.managedhsm\.(?:localhost|azure\.net|azure\.cn|usgovcloudapi\.net)(?::\d+)?$/i;

export type Action =
  | 'set'
  | 'create'
  | 'import'
  | 'get'
  | 'list'
  | 'versions'
  | 'backup'
  | 'restore'
  | 'delete'
  | 'getDeleted'
  | 'purge'
  | 'recover';

const OPERATION: Record<Action, Operation> = {
  set: 'set',
  create: 'set',
  import: 'set',
  get: 'get',
  list: 'list',
  versions: 'list',
  backup: 'backup',
  restore: 'restore',
  delete: 'delete',
  getDeleted: 'getDeleted',
  purge: 'purge',
  recover: 'recover',
};

export interface Route {
  /** The vault's name, or the HSM's when space is 'hsm'. */
  vault?: string;
  space: Space;
  /** Base URL the client used for this vault, for nextLink (path form keeps the vault segment). */
  base: string;
  kind?: ItemKind;
  operation?: Operation;
  action?: Action;
  name?: string;
  version?: string;
  /** Why no action matched: 'path' (unknown path), 'method' (known path, wrong verb). */
  miss?: 'path' | 'method' | 'vault';
}

/**
 * The vault from `<vault>.localhost` (or `<vault>.<cloud vault suffix>`, reached through a test proxy)
 * in Host, else from the first path segment; `<hsm>.managedhsm.<suffix>`, or the path `/hsm/<hsm>`,
 * is a Managed HSM. Then the Key Vault item paths (an HSM has the keys ones only).
 */
export function parseRoute(method: string, host: string | undefined, pathname: string): Route {
  const segments = pathname.split('/').slice(1).map(safeDecode);
  const hostHsm = host ? HOST_HSM.exec(host)?.[1] : undefined;
  const hostVault = host && !hostHsm ? HOST_VAULT.exec(host)?.[1] : undefined;
  let vault: string | undefined;
  let space: Space = 'vault';
  let rest: string[];
  let base = `https://${host ?? 'localhost'}`;
  if (hostHsm || hostVault) {
    vault = hostHsm ?? hostVault;
    space = hostHsm ? 'hsm' : 'vault';
    rest = segments;
  } else if (segments[0]?.toLowerCase() === 'hsm') {
    space = 'hsm';
    vault = segments[1] || undefined;
    rest = segments.slice(2);
    if (vault) base += `/hsm/${encodeURIComponent(vault)}`;
  } else {
    vault = segments[0] || undefined;
    rest = segments.slice(1);
    if (vault) base += `/${encodeURIComponent(vault)}`;
  }
  const route: Route = { base, space, ...(vault ? { vault } : {}) };
  if (!vault) return { ...route, miss: 'vault' };
  const collection = COLLECTIONS[rest[0]?.toLowerCase() ?? ''];
  if (!collection || (space === 'hsm' && collection.kind !== 'key')) return { ...route, miss: 'path' };
  const kind = collection.kind;
  const [, a, b, ...more] = rest;
  if (more.length > 0) return { ...route, kind, miss: 'path' };

  const act = (action: Action, r: Partial<Route> = {}): Route => ({ ...route, kind, ...r, action, operation: OPERATION[action] });
  const want = (verb: string, action: Action, r: Partial<Route> = {}): Route =>
    method === verb ? act(action, r) : { ...route, kind, ...r, miss: 'method' };

  if (collection.deleted) {
    if (!a) return { ...route, kind, miss: 'path' };
    if (b === undefined) {
      return method === 'DELETE' ? act('purge', { name: a }) : want('GET', 'getDeleted', { name: a });
    }
    if (b.toLowerCase() === 'recover') return want('POST', 'recover', { name: a });
    return { ...route, kind, miss: 'path' };
  }

  if (!a) return b === undefined ? want('GET', 'list') : { ...route, kind, miss: 'path' };
  if (b === undefined && a.toLowerCase() === 'restore' && method === 'POST') return act('restore');
  if (b === undefined) {
    if (method === 'PUT' && kind === 'secret') return act('set', { name: a });
    if (method === 'DELETE') return act('delete', { name: a });
    return want('GET', 'get', { name: a });
  }
  const verb = b.toLowerCase();
  if (verb === 'backup') return want('POST', 'backup', { name: a });
  if (verb === 'versions') return want('GET', 'versions', { name: a });
  if (verb === 'create' && kind === 'key' && method === 'POST') return act('create', { name: a });
  if (verb === 'import' && kind === 'certificate' && method === 'POST') return act('import', { name: a });
  return want('GET', 'get', { name: a, ...(b ? { version: b } : {}) });
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
