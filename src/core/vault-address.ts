import { BackupError } from './errors.js';
import { describeValue, validateSecretName, validateVaultName } from './names.js';

export const PUBLIC_DNS_SUFFIX = 'vault.azure.net';
export const KNOWN_DNS_SUFFIXES: readonly string[] = [PUBLIC_DNS_SUFFIX, 'vault.azure.cn', 'vault.usgovcloudapi.net', 'vault.microsoftazure.de'];

export interface VaultAddressing {
  /** One of KNOWN_DNS_SUFFIXES for Azure's clouds, or another for a private one. */
  dnsSuffix: string;
  /**
   * An explicit address for a local or test vault, may contain {vault}. Only
   * such an explicit address relaxes the challenge's resource check.
   */
  override?: string;
  /** The same for Managed HSMs (their own address and token resource); may contain {vault}. */
  hsmOverride?: string;
}

/** Each Azure cloud's Managed HSM DNS suffix, by its Key Vault one (Az's ManagedHsmServiceEndpointSuffix). */
export const HSM_DNS_SUFFIXES: Readonly<Record<string, string>> = {
  'vault.azure.net': 'managedhsm.azure.net',
  'vault.azure.cn': 'managedhsm.azure.cn',
  'vault.usgovcloudapi.net': 'managedhsm.usgovcloudapi.net',
};

export interface VaultEndpoint {
  url: string;
  /** True only for an explicit override: the challenge's resource check is relaxed. */
  relaxChallengeResourceCheck: boolean;
}

const DNS_SUFFIX = /^(?=.{3,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

export function validateDnsSuffix(value: string): string {
  const suffix = value.trim().toLowerCase().replace(/^\.+/, '');
  if (!DNS_SUFFIX.test(suffix)) {
    throw new BackupError('InvalidArgument', `The vault DNS suffix ${describeValue(value)} is not a DNS name (e.g. vault.azure.net).`);
  }
  return suffix;
}

/** Checks an override address once, at start-up, so a typo fails before any backup. */
export function validateOverride(template: string): string {
  let parsed: URL;
  try {
    parsed = new URL(template.replace(/\{vault\}/g, 'placeholder'));
  } catch {
    throw new BackupError('InvalidArgument', `The vault address ${describeValue(template)} is not a URL.`);
  }
  if (parsed.protocol !== 'https:') {
    // The SDK refuses plain http, and we never want tokens over it.
    throw new BackupError('InvalidArgument', `The vault address ${describeValue(template)} must use https.`);
  }
  if (parsed.search || parsed.hash || parsed.username || parsed.password) {
    throw new BackupError('InvalidArgument', `The vault address ${describeValue(template)} must not have a query, fragment or user info.`);
  }
  return template;
}

/** An explicit address (a vault's or an HSM's) with the name put in: only such a one relaxes the challenge's resource check. */
function explicitEndpoint(template: string, name: string): VaultEndpoint {
  return { url: template.replace(/\{vault\}/g, name).replace(/\/+$/, ''), relaxChallengeResourceCheck: true };
}

export function vaultEndpoint(vaultName: string, addressing: VaultAddressing): VaultEndpoint {
  const vault = validateVaultName(vaultName).toLowerCase();
  if (addressing.override !== undefined) {
    return explicitEndpoint(addressing.override, vault);
  }
  return { url: `https://${vault}.${validateDnsSuffix(addressing.dnsSuffix)}`, relaxChallengeResourceCheck: false };
}

/** https://<hsm>.managedhsm.azure.net for the configured cloud, or the explicit HSM address. */
export function hsmEndpoint(hsmName: string, addressing: VaultAddressing): VaultEndpoint {
  const hsm = validateVaultName(hsmName, 'Managed HSM').toLowerCase();
  if (addressing.hsmOverride !== undefined) {
    return explicitEndpoint(addressing.hsmOverride, hsm);
  }
  const suffix = HSM_DNS_SUFFIXES[validateDnsSuffix(addressing.dnsSuffix)];
  if (suffix === undefined) {
    throw new BackupError(
      'InvalidArgument',
      `No Managed HSM address is known for the cloud of vault suffix '${addressing.dnsSuffix}': give the HSM's address with --hsm-url (or AZ_KEYVAULT_BACKUP_HSM_URL).`,
    );
  }
  return { url: `https://${hsm}.${suffix}`, relaxChallengeResourceCheck: false };
}

export interface SecretReference {
  vaultName: string;
  name: string;
  /** The cloud the identifier names, when it differs from the configured one. */
  dnsSuffix?: string;
}

/**
 * Reads vault and secret from a secret identifier such as
 * https://myvault.vault.azure.net/secrets/mysecret[/version]. The host must be
 * a vault under the configured DNS suffix or a known Azure cloud's (public,
 * China, US Government), so an -Id can never send a token to another host;
 * the challenge's resource check stays on for all of them.
 */
export function parseSecretId(id: unknown, addressing: VaultAddressing): SecretReference {
  if (typeof id !== 'string' || id.length === 0) {
    throw new BackupError('InvalidArgument', `The secret identifier is required; got ${describeValue(id)}.`);
  }
  // The URL parser drops tabs and newlines, trims spaces, maps full-width
  // letters to ASCII and reads backslashes as slashes: it would back up a
  // secret other than the one typed. Only the plain form is accepted.
  if (!/^[\x21-\x7e]+$/.test(id) || !/^https:\/\//i.test(id)) {
    throw new BackupError('InvalidArgument', `The secret identifier ${describeValue(id)} must be a plain https URI like https://myvault.vault.azure.net/secrets/mysecret, without spaces or control characters.`);
  }
  let url: URL;
  try {
    url = new URL(id);
  } catch {
    throw new BackupError('InvalidArgument', `The secret identifier ${describeValue(id)} is not a URI like https://myvault.vault.azure.net/secrets/mysecret.`);
  }
  // A bare '?' or '#' leaves search and hash empty, so the raw text is checked too.
  if (url.protocol !== 'https:' || url.username || url.password || /[?#]/.test(id) || (url.port !== '' && url.port !== '443')) {
    throw new BackupError('InvalidArgument', `The secret identifier ${describeValue(id)} must be an https Key Vault secret URI without port, query or fragment.`);
  }
  const host = url.hostname.toLowerCase();
  const dot = host.indexOf('.');
  const vaultLabel = dot > 0 ? host.slice(0, dot) : '';
  const hostSuffix = dot > 0 ? host.slice(dot + 1) : '';
  const configured = validateDnsSuffix(addressing.dnsSuffix);
  if (hostSuffix !== configured && !KNOWN_DNS_SUFFIXES.includes(hostSuffix)) {
    throw new BackupError(
      'InvalidArgument',
      `The secret identifier ${describeValue(id)} points to '${host}', which is not a vault under '${configured}' or another Azure cloud's vault suffix.`,
    );
  }
  // Split on the raw path so an encoded slash (%2F) cannot smuggle a segment.
  const segments = url.pathname.split('/').slice(1);
  if (segments.length > 0 && segments[segments.length - 1] === '') segments.pop();
  if (segments.length < 2 || segments.length > 3 || segments[0]?.toLowerCase() !== 'secrets') {
    throw new BackupError('InvalidArgument', `The secret identifier ${describeValue(id)} must look like https://<vault>.${addressing.dnsSuffix}/secrets/<name>[/<version>].`);
  }
  const version = segments[2];
  if (version !== undefined && !/^[A-Za-z0-9]{1,64}$/.test(version)) {
    throw new BackupError('InvalidArgument', `The secret identifier ${describeValue(id)} has an invalid version segment.`);
  }
  try {
    const names = { vaultName: validateVaultName(vaultLabel), name: validateSecretName(segments[1]) };
    return hostSuffix === configured ? names : { ...names, dnsSuffix: hostSuffix };
  } catch (error) {
    // Quote the whole identifier too: the user typed that, not the decoded segment.
    if (error instanceof BackupError) throw new BackupError('InvalidArgument', `The secret identifier ${describeValue(id)} is invalid. ${error.message}`);
    throw error;
  }
}
