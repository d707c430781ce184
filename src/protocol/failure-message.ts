import type { BackupRequest } from '../core/backup.js';

/** The secret a request is about, for a message: from its names, or read loosely from its URI. */
function namesOf(request: BackupRequest | undefined): { vaultName?: string; name?: string } {
  if (request === undefined) return {};
  if (request.vaultName !== undefined && request.name !== undefined) return { vaultName: request.vaultName, name: request.name };
  if (request.secretId === undefined) return {};
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
 * The service's (or our) reason first, then which secret it is about.
 */
export function composeFailureMessage(reason: string, request: BackupRequest | undefined): string {
  const { vaultName, name } = namesOf(request);
  if (vaultName && name) return `${reason} (vault '${vaultName}', secret '${name}')`;
  if (request?.secretId) return `${reason} (secret '${request.secretId}')`;
  return reason;
}
