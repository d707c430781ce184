import type { ItemKind } from '../core/item-kind.js';

/** What a failed request was about, as the module sent it. */
export interface RequestNames {
  kind?: ItemKind;
  vaultName?: string;
  hsmName?: string;
  name?: string;
  secretId?: string;
  inputFile?: string;
}

/** The item a request is about, for a message: from its names, or read loosely from its URI. */
function namesOf(request: RequestNames | undefined): { vaultName?: string; name?: string } {
  if (request === undefined) return {};
  const vaultName = request.vaultName ?? request.hsmName;
  if (vaultName !== undefined && request.name !== undefined) return { vaultName, name: request.name };
  if (request.secretId === undefined) return { vaultName };
  try {
    const uri = new URL(request.secretId);
    const segments = uri.pathname.split('/').filter((s) => s.length > 0);
    const at = segments.indexOf('secrets');
    if (at >= 0 && at + 1 < segments.length) return { vaultName: uri.hostname.split('.')[0], name: decodeURIComponent(segments[at + 1]!) };
  } catch {
    // Not a URI: the message names the identifier as given.
  }
  return {};
}

/**
 * The whole text of a failed result's message, composed here once: the module shows it as is.
 * The service's (or our) reason first, then which item (or backup file) it is about.
 */
export function composeFailureMessage(reason: string, request: RequestNames | undefined): string {
  const { vaultName, name } = namesOf(request);
  const kind = request?.kind ?? 'secret';
  const where = request?.hsmName !== undefined ? 'Managed HSM' : 'vault';
  if (vaultName && name) return `${reason} (${where} '${vaultName}', ${kind} '${name}')`;
  if (request?.secretId) return `${reason} (secret '${request.secretId}')`;
  if (vaultName && request?.inputFile !== undefined) return `${reason} (${where} '${vaultName}', file '${request.inputFile}')`;
  return reason;
}
