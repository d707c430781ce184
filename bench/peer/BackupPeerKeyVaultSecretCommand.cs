// Backup-PeerKeyVaultSecret: the benchmark's in-process peer. It backs up a secret the way
// Az.KeyVault's Backup-AzKeyVaultSecret does: the Azure SDK for .NET inside pwsh, one SecretClient
// per vault kept for the life of the process (with its credential and token cache), one request
// at a time, BackupSecret, then File.WriteAllBytes. It exists only to be measured against this
// module in the same pwsh; it is not shipped.
//
// Where it connects, like the module's executable:
//   -VaultUri, else AZ_KEYVAULT_BACKUP_VAULT_URL with {vault} replaced by the vault name (an
//   explicit address: the challenge's resource check is relaxed, as the executable relaxes it),
//   else https://<vault>.vault.azure.net.
// Whom it trusts: NODE_EXTRA_CA_CERTS (a PEM file), when set, is the only root the vault's
// certificate may chain to (X509ChainPolicy CustomRootTrust); the host name is still checked.
// Unset, the system's roots, as usual.
// How it signs in: ManagedIdentityCredential, which reads IDENTITY_ENDPOINT / IDENTITY_HEADER.
using System;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO;
using System.Management.Automation;
using System.Net.Http;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Azure.Security.KeyVault.Secrets;

namespace Bench.PeerKeyVault
{
    [Cmdlet(VerbsData.Backup, "PeerKeyVaultSecret", SupportsShouldProcess = true, DefaultParameterSetName = ByName)]
    [OutputType(typeof(string))]
    public sealed class BackupPeerKeyVaultSecretCommand : PSCmdlet
    {
        private const string ByName = "BySecretName";
        private const string VaultUrlVariable = "AZ_KEYVAULT_BACKUP_VAULT_URL";
        private const string CaFileVariable = "NODE_EXTRA_CA_CERTS";

        // Kept between calls in the same pwsh, as Az keeps its data-plane clients: one credential
        // (so one token cache) and one SecretClient, with its HTTP connections, per vault address.
        private static readonly Lazy<TokenCredential> Credential = new(() => new ManagedIdentityCredential(ManagedIdentityId.SystemAssigned));
        private static readonly Lazy<HttpPipelineTransport> Transport = new(CreateTransport);
        private static readonly ConcurrentDictionary<string, SecretClient> Clients = new(StringComparer.OrdinalIgnoreCase);

        private CancellationTokenSource? _stopping;

        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = ByName)]
        [ValidateNotNullOrEmpty]
        public string VaultName { get; set; } = "";

        [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true, ParameterSetName = ByName)]
        [Alias("SecretName")]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; } = "";

        [Parameter(Position = 2)]
        [ValidateNotNullOrEmpty]
        public string? OutputFile { get; set; }

        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>The vault's address, instead of the one derived from -VaultName.</summary>
        [Parameter]
        public Uri? VaultUri { get; set; }

        protected override void BeginProcessing() => _stopping = new CancellationTokenSource();

        protected override void StopProcessing() => _stopping?.Cancel();

        protected override void EndProcessing() => _stopping?.Dispose();

        protected override void ProcessRecord()
        {
            var path = OutputFile is { Length: > 0 }
                ? GetUnresolvedProviderPathFromPSPath(OutputFile)
                : DefaultFile(VaultName, Name);
            if (!ShouldProcess(Name, $"Back up the secret to '{path}'")) return;
            if (!Force.IsPresent && File.Exists(path))
            {
                WriteError(new ErrorRecord(
                    new IOException($"The file '{path}' already exists. Use -Force to overwrite it."),
                    "OutputFileExists", ErrorCategory.ResourceExists, path));
                return;
            }

            byte[] backup;
            try
            {
                backup = ClientFor(VaultName, VaultUri).BackupSecret(Name, _stopping!.Token).Value;
            }
            catch (RequestFailedException error)
            {
                var category = error.Status switch
                {
                    404 => ErrorCategory.ObjectNotFound,
                    401 or 403 => ErrorCategory.PermissionDenied,
                    _ => ErrorCategory.InvalidOperation,
                };
                WriteError(new ErrorRecord(error, $"BackupFailed{error.Status}", category, Name));
                return;
            }
            catch (AuthenticationFailedException error)
            {
                WriteError(new ErrorRecord(error, "AuthenticationFailed", ErrorCategory.AuthenticationError, Name));
                return;
            }

            File.WriteAllBytes(path, backup);
            WriteObject(path);
        }

        /// <summary>Az's file name when -OutputFile is left out: vault-name-seconds since 1970, in the current folder.</summary>
        private string DefaultFile(string vault, string name)
        {
            var seconds = (DateTime.UtcNow - DateTime.UnixEpoch).TotalSeconds.ToString("F5", CultureInfo.InvariantCulture);
            return Path.Combine(SessionState.Path.CurrentFileSystemLocation.ProviderPath, $"{vault}-{name}-{seconds}");
        }

        private static SecretClient ClientFor(string vaultName, Uri? vaultUri)
        {
            var (uri, relaxed) = Address(vaultName, vaultUri);
            return Clients.GetOrAdd(uri.AbsoluteUri, _ => new SecretClient(uri, Credential.Value, new SecretClientOptions
            {
                Transport = Transport.Value,
                // The local vault's challenge names https://vault.azure.net, which 127.0.0.1 is not under.
                DisableChallengeResourceVerification = relaxed,
            }));
        }

        private static (Uri Uri, bool Relaxed) Address(string vaultName, Uri? vaultUri)
        {
            if (vaultUri != null) return (vaultUri, true);
            var vault = vaultName.ToLowerInvariant();
            var template = Environment.GetEnvironmentVariable(VaultUrlVariable);
            if (!string.IsNullOrEmpty(template))
            {
                var uri = new Uri(template.Replace("{vault}", vault, StringComparison.Ordinal).TrimEnd('/'));
                if (uri.Scheme != Uri.UriSchemeHttps) throw new PSArgumentException($"{VaultUrlVariable} must be an https address.");
                return (uri, true);
            }
            return (new Uri($"https://{vault}.vault.azure.net"), false);
        }

        private static HttpPipelineTransport CreateTransport()
        {
            var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
            var caFile = Environment.GetEnvironmentVariable(CaFileVariable);
            if (!string.IsNullOrEmpty(caFile))
            {
                var roots = new X509Certificate2Collection();
                roots.ImportFromPemFile(caFile);
                if (roots.Count == 0) throw new PSArgumentException($"{CaFileVariable} ('{caFile}') holds no certificate.");
                handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                    TrustedByCustomRoot(certificate as X509Certificate2 ?? (certificate is null ? null : new X509Certificate2(certificate)), errors, roots);
            }
            return new HttpClientTransport(handler);
        }

        /// <summary>
        /// The certificate must name the host (SslStream's check, kept as is) and chain to one of
        /// <paramref name="roots"/>, with nothing else wrong in the chain: validation stays on, only
        /// the set of trusted roots is replaced.
        /// </summary>
        private static bool TrustedByCustomRoot(X509Certificate2? certificate, SslPolicyErrors errors, X509Certificate2Collection roots)
        {
            if (certificate is null) return false;
            if ((errors & (SslPolicyErrors.RemoteCertificateNotAvailable | SslPolicyErrors.RemoteCertificateNameMismatch)) != 0) return false;
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(roots);
            // A test CA publishes no revocation list.
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            chain.ChainPolicy.VerificationFlags = X509VerificationFlags.NoFlag;
            return chain.Build(certificate);
        }
    }
}
