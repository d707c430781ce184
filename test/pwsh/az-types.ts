/**
 * PowerShell that defines Az.KeyVault's secret types exactly as Az names them (namespace, class
 * names, subclassing, the properties Get-AzKeyVaultSecret fills), so pipeline binding is tested
 * against the real type names without Az installed. Guarded: a type cannot be defined twice in a
 * session, and Az may already have loaded it.
 */
export const DEFINE_AZ_TYPES = String.raw`
if ($null -eq ('Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultSecretIdentityItem' -as [type])) {
    Add-Type -TypeDefinition @'
namespace Microsoft.Azure.Commands.KeyVault.Models
{
    public class PSKeyVaultSecretIdentityItem
    {
        public string VaultName { get; set; }
        public string Name { get; set; }
        public string Version { get; set; }
        public string Id { get; set; }
        public bool? Enabled { get; set; }
        public System.DateTime? Expires { get; set; }
        public System.DateTime? NotBefore { get; set; }
        public System.DateTime? Created { get; set; }
        public System.DateTime? Updated { get; set; }
        public string ContentType { get; set; }
        public System.Collections.Hashtable Tags { get; set; }
    }
    public class PSKeyVaultSecret : PSKeyVaultSecretIdentityItem
    {
        public System.Security.SecureString SecretValue { get; set; }
    }
}
'@
}
function New-AzSecretItem([string]$VaultName, [string]$Name, [switch]$Full) {
    if ($Full) { $item = [Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultSecret]::new() }
    else { $item = [Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultSecretIdentityItem]::new() }
    $item.VaultName = $VaultName
    $item.Name = $Name
    $item.Version = 'a1b2c3d4e5f60718293a4b5c6d7e8f90'
    $item.Id = 'https://{0}.vault.azure.net/secrets/{1}/{2}' -f $VaultName, $Name, $item.Version
    $item.Enabled = $true
    $item
}
`;
