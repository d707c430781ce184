import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { BackupError } from './errors.js';
import type { Logger } from './logger.js';

export interface SuppliedToken {
  token: string;
  /** Epoch milliseconds. */
  expiresOnTimestamp: number;
  tenantId?: string;
}

// A token handed over by the module (from the user's Az context) is used
// until shortly before it expires; then, or when none was given, the
// executable's own chain signs in.
const EXPIRY_MARGIN_MS = 2 * 60_000;

/**
 * The credential the executable uses: a token supplied over stdin first,
 * otherwise DefaultAzureCredential, loaded on first use so that start-up
 * stays fast and no credential probing happens for --help or bad input.
 */
export class BackupCredential implements TokenCredential {
  private supplied: SuppliedToken | undefined;
  private fallback: Promise<TokenCredential> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly makeFallback: () => Promise<TokenCredential> = defaultChain,
    private readonly now: () => number = Date.now,
  ) {}

  supply(token: SuppliedToken): void {
    this.supplied = token;
  }

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const supplied = this.supplied;
    if (supplied !== undefined && supplied.expiresOnTimestamp - EXPIRY_MARGIN_MS > this.now()) {
      const wanted = options?.tenantId;
      if (wanted === undefined || supplied.tenantId === undefined || wanted.toLowerCase() === supplied.tenantId.toLowerCase()) {
        return { token: supplied.token, expiresOnTimestamp: supplied.expiresOnTimestamp };
      }
      this.logger.verbose(`The vault asks for tenant ${wanted}; the supplied token is for ${supplied.tenantId}. Signing in by other means.`);
    }
    this.fallback ??= this.makeFallback();
    try {
      return await (await this.fallback).getToken(scopes, options);
    } catch (error) {
      throw credentialError(error);
    }
  }
}

async function defaultChain(): Promise<TokenCredential> {
  const { DefaultAzureCredential } = await import('@azure/identity');
  return new DefaultAzureCredential();
}

/** One short, actionable message instead of the SDK's aggregated stack. */
export function credentialError(error: unknown): BackupError {
  if (error instanceof BackupError) return error;
  const name = (error as { name?: string }).name ?? 'Error';
  return new BackupError(
    'Unauthenticated',
    'Could not sign in to Azure Key Vault: no credential was available. Tried environment variables (AZURE_CLIENT_ID/AZURE_TENANT_ID with a secret or certificate), workload identity, managed identity, Azure CLI and Azure PowerShell. ' +
      'Run Connect-AzAccount (or az login), or give the machine or Automation account a managed identity with access to the vault.',
    { code: name },
  );
}
