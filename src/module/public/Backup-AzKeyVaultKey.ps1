function Backup-AzKeyVaultKey {
    <#
    .SYNOPSIS
    Backs up a key in a key vault or a Managed HSM.

    .DESCRIPTION
    The Backup-AzKeyVaultKey cmdlet backs up a specified key in a key vault (or a Managed HSM) by
    downloading it and storing it in a file. If there are multiple versions of the key, all versions
    are included in the backup. Because the downloaded content is encrypted, it cannot be used
    outside of Azure Key Vault. You can restore a backed-up key to any key vault (or Managed HSM) in
    the subscription and geography that it was backed up from (Restore-AzKeyVaultKey, or az keyvault
    key restore: the files are the same bytes).

    This module is a drop-in for the Az.KeyVault cmdlet of the same name and does not need the Az
    modules. The work is done by the az-keyvault-backup executable bundled with the module, which
    every call and pipeline of a PowerShell session (runspace) shares, as Backup-AzKeyVaultSecret
    describes: piped keys are backed up concurrently (see -ThrottleLimit), each file is written
    atomically and results come out in input order.

    Signing in works as for Az: an Az context (Connect-AzAccount, or -DefaultProfile) gives the
    tokens, a Managed HSM's from its own resource (ManagedHsmServiceEndpointResourceId); without one
    the executable signs in by itself (environment, workload identity, managed identity, Azure CLI,
    Azure PowerShell, Azure Developer CLI). If nothing can sign in, one terminating error with the id
    AuthenticationFailed says what was tried and what to do.

    .PARAMETER VaultName
    Specifies the name of the key vault that contains the key to back up.

    .PARAMETER HsmName
    Specifies the name of the Managed HSM that contains the key to back up.

    .PARAMETER Name
    Specifies the name of the key to back up. Alias: KeyName.

    .PARAMETER InputObject
    Key to be backed up, pipelined in from the output of a retrieval call (Get-AzKeyVaultKey). Any
    object with VaultName and Name properties is accepted; one whose IsHsm is true is a key of the
    Managed HSM named by its VaultName. Other objects fail with the error id InvalidInputObject and
    the pipeline goes on. Alias: Key.

    .PARAMETER OutputFile
    Specifies the output file in which the backup blob is stored. Relative paths, ~ and PowerShell
    drives are resolved against the current PowerShell location. If you do not specify this
    parameter, a file named <vault or HSM>-<key>-<seconds since 1970> (lower-cased) is created in the
    current PowerShell location. If it names an existing directory, that default file name is used
    inside it; a path ending in / or \ always names a directory (OutputDirectoryNotFound if it does
    not exist). Only file-system paths are accepted (InvalidOutputFile otherwise). If the file
    exists, you are asked whether to overwrite it unless -Force is given; where no prompt is
    possible the item fails with the error id FileExists and the file is left untouched.

    .PARAMETER Force
    Overwrites an existing output file without asking. -Confirm:$false does not do this.

    .PARAMETER DefaultProfile
    The credentials, account, tenant, and subscription used for communication with Azure (an Az
    context, as returned by Get-AzContext or Connect-AzAccount). Its tokens and cloud are used instead
    of the current context's; needs Az.Accounts loaded. Aliases: AzContext, AzureRmContext,
    AzureCredential.

    .PARAMETER ThrottleLimit
    The most backups in flight at once within one pipeline, 1 to 64; default 16. Not in Az.

    .PARAMETER WhatIf
    Shows what would happen if the cmdlet runs. The cmdlet is not run and no executable is started.

    .PARAMETER Confirm
    Prompts you for confirmation before backing up each key.

    .INPUTS
    Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultKeyIdentityItem, or any object with VaultName and Name properties.

    .OUTPUTS
    System.String. The full path of each backup file.

    .EXAMPLE
    PS C:\Users\username\> Backup-AzKeyVaultKey -VaultName 'MyKeyVault' -Name 'MyKey'

    C:\Users\username\mykeyvault-mykey-1527029447.01191

    Backs up the key MyKey of the key vault MyKeyVault to a file with an automatically generated
    name in the current location, and writes the file's path.

    .EXAMPLE
    PS C:\> Backup-AzKeyVaultKey -VaultName 'MyKeyVault' -Name 'MyKey' -OutputFile 'C:\Backup.blob' -Force

    C:\Backup.blob

    Backs up the key MyKey to the file C:\Backup.blob, overwriting it without prompting if it exists.

    .EXAMPLE
    PS C:\> $key = Get-AzKeyVaultKey -VaultName 'MyKeyVault' -Name 'MyKey'
    PS C:\> Backup-AzKeyVaultKey -Key $key -OutputFile 'C:\Backup.blob'

    C:\Backup.blob

    Uses the $key object's vault name and name to back up the key to the file C:\Backup.blob.

    .EXAMPLE
    PS C:\> Backup-AzKeyVaultKey -HsmName 'MyHsm' -Name 'MyKey' -OutputFile './backups/'

    Backs up the key MyKey of the Managed HSM MyHsm into the existing directory ./backups, with its
    default file name.

    .EXAMPLE
    PS C:\> Get-AzKeyVaultKey -VaultName 'MyKeyVault' | Backup-AzKeyVaultKey -OutputFile ./backups -Force

    Backs up every key of the vault MyKeyVault into the existing directory ./backups, one file per
    key with its default name, several at a time. A key that fails (for example one that belongs to
    a certificate, ManagedByCertificate) gives an error and the others go on.

    .EXAMPLE
    PS C:\> New-Item -ItemType Directory ./backups -Force | Out-Null
    PS C:\> Get-AzKeyVaultSecret -VaultName 'MyKeyVault' | Backup-AzKeyVaultSecret -OutputFile ./backups
    PS C:\> Get-AzKeyVaultKey -VaultName 'MyKeyVault' | Backup-AzKeyVaultKey -OutputFile ./backups
    PS C:\> Get-AzKeyVaultCertificate -VaultName 'MyKeyVault' | Backup-AzKeyVaultCertificate -OutputFile ./backups

    A whole vault backed up: its secrets, keys and certificates, one file each. A certificate's own
    secret and key fail with the error id ManagedByCertificate: they are in the certificate's backup.

    .NOTES
    Differences from Az.KeyVault's Backup-AzKeyVaultKey:
    - Several piped keys without -OutputFile each get their own default file name (Az reuses the
      first name). Default names are lower-cased and use the platform's path separator.
    - -OutputFile may name an existing directory: each key's default file name is used inside it.
    - Within one pipeline, a second item aimed at the same -OutputFile counts as an existing file.
    - Errors carry real categories and ids (KeyNotFound/ObjectNotFound, AccessDenied/PermissionDenied,
      ManagedByCertificate/InvalidOperation for a certificate's own key, AuthenticationFailed,
      Throttled, ConnectionFailed, FileExists/ResourceExists, WriteFailed, ServiceError,
      InvalidArgument, InvalidInputObject) and the service's own message.
    - -ThrottleLimit is added. Files are written atomically; a stopped pipeline leaves no partial file.
    - The caller's preference variables are obeyed as by Az's compiled cmdlet, also when set in a
      script's or a function's scope; an explicit common parameter wins over them.

    .LINK
    about_Az.KeyVault.Backup

    .LINK
    Restore-AzKeyVaultKey

    .LINK
    Get-AzKeyVaultKey
    #>
    [CmdletBinding(DefaultParameterSetName = 'ByKeyName', SupportsShouldProcess)]
    [OutputType([string])]
    param(
        [Parameter(Mandatory, Position = 0, ParameterSetName = 'ByKeyName')]
        [ValidateNotNullOrEmpty()]
        [string]$VaultName,

        [Parameter(Mandatory, ParameterSetName = 'HsmByKeyName')]
        [ValidateNotNullOrEmpty()]
        [string]$HsmName,

        [Parameter(Mandatory, Position = 1, ParameterSetName = 'ByKeyName')]
        [Parameter(Mandatory, Position = 1, ParameterSetName = 'HsmByKeyName')]
        [ValidateNotNullOrEmpty()]
        [Alias('KeyName')]
        [string]$Name,

        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ParameterSetName = 'ByKey')]
        [ValidateNotNullOrEmpty()]
        [Alias('Key')]
        [object]$InputObject,

        [Parameter(Position = 2)]
        [ValidateNotNullOrEmpty()]
        [string]$OutputFile,

        [Parameter()]
        [switch]$Force,

        [Parameter()]
        [ValidateNotNullOrEmpty()]
        [Alias('AzContext', 'AzureRmContext', 'AzureCredential')]
        [object]$DefaultProfile,

        [Parameter()]
        [ValidateRange(1, 64)]
        [int]$ThrottleLimit = 16
    )

    begin {
        # The caller's preference variables, into this function's own scope (see constants.ps1).
        . $script:ImportCallerPreference
        $pipelineState = Start-ItemPipeline -Cmdlet $PSCmdlet -Operation 'backup' -Kind 'key' -ThrottleLimit $ThrottleLimit -DefaultProfile $DefaultProfile
    }

    process {
        $finished = $false
        try {
            Invoke-BackupItem -State $pipelineState -ParameterSetName $PSCmdlet.ParameterSetName -VaultName $VaultName -HsmName $HsmName -Name $Name -InputObject $InputObject -OutputFile $OutputFile -Force $Force.IsPresent
            $finished = $true
        }
        finally {
            # A stop (Ctrl+C, Select-Object -First, a downstream throw) or a terminating error: the
            # end block will not run.
            if (-not $finished) { Stop-PipelineItem -State $pipelineState }
        }
    }

    end { Complete-ItemPipeline -State $pipelineState }

    clean {
        # PowerShell 7.3+ run this however the pipeline ended; the build leaves it out of the variant
        # older versions load. A begin block that failed leaves $pipelineState $null.
        Stop-UnfinishedPipeline -State $pipelineState
    }
}
