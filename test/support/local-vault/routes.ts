import type { Operation } from './types.js';

export const SECRET_NAME = /^[0-9A-Za-z-]{1,127}$/;
export const VAULT_NAME = /^(?!.*--)[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$/;

const HOST_VAULT = /^([^.:[\]]+)\.(?:localhost|vault\.azure\.net|vault\.azure\.cn|vault\.usgovcloudapi\.net)(?::\d+)?$/i;

export interface Route {
  vault?: string;
  /** Base URL the client used for this vault, for nextLink (path form keeps the vault segment). */
  base: string;
  operation?: Operation;
  action?: 'set' | 'get' | 'list' | 'versions' | 'backup' | 'restore';
  name?: string;
  version?: string;
  /** Why no action matched: 'path' (unknown path), 'method' (known path, wrong verb). */
  miss?: 'path' | 'method' | 'vault';
}

/**
 * Vault from `<vault>.localhost` (or `<vault>.<cloud vault suffix>`, reached through a test proxy) in Host, else from the first path segment;
 * then the Key Vault secrets paths.
 */
export function parseRoute(method: string, host: string | undefined, pathname: string): Route {
  const segments = pathname.split('/').slice(1).map(safeDecode);
  const hostVault = host ? HOST_VAULT.exec(host)?.[1] : undefined;
  let vault: string | undefined;
  let rest: string[];
  let base = `https://${host ?? 'localhost'}`;
  if (hostVault) {
    vault = hostVault;
    rest = segments;
  } else {
    vault = segments[0] || undefined;
    rest = segments.slice(1);
    if (vault) base += `/${encodeURIComponent(vault)}`;
  }
  const route: Route = { base, ...(vault ? { vault } : {}) };
  if (!vault) return { ...route, miss: 'vault' };
  if (rest[0]?.toLowerCase() !== 'secrets') return { ...route, miss: 'path' };

  const [, a, b, ...more] = rest;
  if (more.length > 0) return { ...route, miss: 'path' };
  const want = (verb: string, r: Partial<Route>): Route =>
    method === verb ? { ...route, ...r } : { ...route, ...r, action: undefined, operation: undefined, miss: 'method' };

  if (!a) return b === undefined ? want('GET', { action: 'list', operation: 'list' }) : { ...route, miss: 'path' };
  if (b === undefined && a.toLowerCase() === 'restore' && method === 'POST') {
    return { ...route, action: 'restore', operation: 'restore' };
  }
  if (b === undefined) {
    return method === 'PUT'
      ? { ...route, action: 'set', operation: 'set', name: a }
      : want('GET', { action: 'get', operation: 'get', name: a });
  }
  if (b.toLowerCase() === 'backup') return want('POST', { action: 'backup', operation: 'backup', name: a });
  if (b.toLowerCase() === 'versions') return want('GET', { action: 'versions', operation: 'list', name: a });
  return want('GET', { action: 'get', operation: 'get', name: a, ...(b ? { version: b } : {}) });
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
