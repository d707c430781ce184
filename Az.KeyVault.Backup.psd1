@{
    # The build rewrites the ModuleVersion line from package.json; keep it on one line.
    ModuleVersion = '0.1.0'
    RootModule = 'Az.KeyVault.Backup.psm1'
    GUID = '3295ef55-cc78-466b-b5f4-f7ac3b53221a'
    Author = 'Az.KeyVault.Backup contributors'
    CompanyName = 'Community'
    Copyright = '(c) Az.KeyVault.Backup contributors. MIT License.'
    Description = 'Backup-AzKeyVaultSecret, Backup-AzKeyVaultKey, Backup-AzKeyVaultCertificate and the three Restore cmdlets as drop-ins for the Az.KeyVault cmdlets, backed by a standalone executable that backs up and restores whole vaults concurrently. No Az modules or Node.js needed.'
    CompatiblePSEditions = @('Desktop', 'Core')
    PowerShellVersion = '5.1'
    FunctionsToExport = @('Backup-AzKeyVaultSecret', 'Backup-AzKeyVaultKey', 'Backup-AzKeyVaultCertificate', 'Restore-AzKeyVaultSecret', 'Restore-AzKeyVaultKey', 'Restore-AzKeyVaultCertificate')
    CmdletsToExport = @()
    VariablesToExport = @()
    AliasesToExport = @()
    PrivateData = @{
        PSData = @{
            Tags = @('PSEdition_Desktop', 'PSEdition_Core', 'Windows', 'Linux', 'MacOS', 'Azure', 'KeyVault', 'Backup', 'Restore', 'Secret', 'Key', 'Certificate')
            ProjectUri = 'https://github.com/az-keyvault-backup/az-keyvault-backup'
            LicenseUri = 'https://github.com/az-keyvault-backup/az-keyvault-backup/blob/main/LICENSE'
            ReleaseNotes = 'First release: Backup-AzKeyVaultSecret with the Az parameter sets (BySecretName, BySecret, BySecretUri), one executable per pipeline, per-item default file names, -OutputFile may name a directory, real error categories and ids, -ThrottleLimit. macOS executables are unsigned.'
        }
    }
}
