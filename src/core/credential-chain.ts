import type { TokenCredential } from '@azure/core-auth';
import { BackupError } from './errors.js';

/** How the executable's own chain (DefaultAzureCredential) is set up; decided by the CLI from its environment. */
export interface ChainOptions {
  /**
   * MSAL first asks login.microsoftonline.com whether the authority is a known
   * Microsoft one; an ADFS or test authority is not, so that check must be
   * skipped for it. Never for a Microsoft host: there it protects against a
   * mistyped or hostile authority.
   */
  disableInstanceDiscovery?: boolean;
}

// Hosts of the Microsoft Entra authorities of every cloud (login.microsoftonline.com,
// login.chinacloudapi.cn, login.microsoftonline.us, login.windows.net, ...).
const MICROSOFT_AUTHORITY_DOMAINS = [
  'microsoftonline.com',
  'microsoftonline.us',
  'microsoftonline.de',
  'microsoftonline.cn',
  'chinacloudapi.cn',
  'windows.net',
  'microsoft.com',
];

export function isMicrosoftAuthorityHost(authorityHost: string): boolean {
  let host: string;
  try {
    host = new URL(authorityHost).hostname.toLowerCase();
  } catch {
    // Not a URL: leave the SDK's own checks (and its error) in charge.
    return true;
  }
  return MICROSOFT_AUTHORITY_DOMAINS.some((domain) => host === domain || host.endsWith(`.${domain}`));
}

/** `authorityHost` is AZURE_AUTHORITY_HOST as the CLI read it; the core never reads the environment. */
export function chainOptionsFor(authorityHost: string | undefined): ChainOptions {
  if (authorityHost === undefined || authorityHost.trim() === '') return {};
  return isMicrosoftAuthorityHost(authorityHost) ? {} : { disableInstanceDiscovery: true };
}

/**
 * DefaultAzureCredential, imported on first use so --help and bad input never
 * load it. Any tenant is allowed so that the vault's challenge decides which
 * tenant issues the token, as it does for Az and the Azure CLI.
 */
export function defaultChainFactory(options: ChainOptions = {}): () => Promise<TokenCredential> {
  return async () => {
    const { DefaultAzureCredential } = await import('@azure/identity');
    return new DefaultAzureCredential({
      additionallyAllowedTenants: ['*'],
      ...(options.disableInstanceDiscovery === true ? { disableInstanceDiscovery: true } : {}),
    });
  };
}

const WHAT_WAS_TRIED =
  'Tried: a service principal in the environment (AZURE_TENANT_ID and AZURE_CLIENT_ID with AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH), ' +
  'workload identity (AZURE_FEDERATED_TOKEN_FILE), managed identity (IDENTITY_ENDPOINT, or the instance metadata service; a user-assigned one via AZURE_CLIENT_ID), ' +
  'Azure CLI, Azure PowerShell and Azure Developer CLI.';

const WHAT_TO_DO =
  'Run Connect-AzAccount (interactively, with a service principal, or -Identity in a runbook) before Backup-AzKeyVaultSecret, or az login, ' +
  'or give this machine or Automation account a managed identity that may back up secrets in the vault.';

interface FailureShape {
  name?: unknown;
  message?: unknown;
  errors?: unknown;
  errorResponse?: { error?: unknown; errorDescription?: unknown };
}

/** The service's own reason (an AADSTS line) when there is one, else the first sentence. */
function reasonOf(failure: FailureShape): string {
  const texts = [failure.errorResponse?.errorDescription, failure.message].filter((t): t is string => typeof t === 'string');
  for (const text of texts) {
    const aadsts = /AADSTS\d+:[^\r\n]*/.exec(text);
    if (aadsts) return firstSentence(aadsts[0].replace(/\s*-?\s*(Trace ID|Correlation ID|Timestamp):[\s\S]*$/, ''));
  }
  return firstSentence(texts[0] ?? String(failure.name ?? 'unknown error'));
}

function firstSentence(text: string): string {
  // The SDK appends troubleshooting links and whole stacks after the first line.
  const line = (text.split(/\r?\n/, 1)[0] ?? text).replace(/\s*(More details|To troubleshoot, visit)[\s\S]*$/, '').trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/**
 * One short, actionable message instead of the SDK's aggregated stack: either
 * "nothing was available" with what was tried and what to do, or the one
 * credential that was available but was refused, with the reason it gave.
 */
export function credentialError(error: unknown, azContextNote = 'No Az context gave a token.'): BackupError {
  if (error instanceof BackupError) return error;
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as FailureShape;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const inner = Array.isArray(e.errors) ? (e.errors as FailureShape[]) : [e];
  const refused = inner.find((x) => x.name === 'AuthenticationError' || x.name === 'AuthenticationRequiredError');
  if (refused !== undefined) {
    return new BackupError(
      'Unauthenticated',
      `Could not sign in to Azure Key Vault: a credential was found but signing in with it failed: ${reasonOf(refused)} ${WHAT_TO_DO}`,
      { code: String(refused.name) },
    );
  }
  return new BackupError('Unauthenticated', `Could not sign in to Azure Key Vault: no credential was available. ${azContextNote} ${WHAT_WAS_TRIED} ${WHAT_TO_DO}`, {
    code: name,
  });
}

/** One line per credential of an aggregated failure, for -Verbose: why each one was not used. */
export function credentialFailureDetails(error: unknown): string[] {
  const e = (typeof error === 'object' && error !== null ? error : {}) as FailureShape;
  const each = Array.isArray(e.errors) ? (e.errors as FailureShape[]) : [e];
  return each.map(reasonOf);
}
