function Restore-AzKeyVaultKey {
    <#
    .SYNOPSIS
    Creates a key in a key vault or a Managed HSM from a backed-up key.

    .DESCRIPTION
    The Restore-AzKeyVaultKey cmdlet creates a key in the specified key vault (or Managed HSM). This
    key is a replica of the backed-up key in the input file and has the same name as the original
    key, with every version, its version ids and attributes. If the target already has a key of the
    same name (or one deleted but not yet purged), the restore fails. You can restore a backup to
    any key vault (a Managed HSM's backup to a Managed HSM) in the subscription and geography it was
    made in; files made by Backup-AzKeyVaultKey, by Az.KeyVault or by az keyvault key backup are the
    same bytes.

    This module is a drop-in for the Az.KeyVault cmdlet of the same name and does not need the Az
    modules. The work is done by the az-keyvault-backup executable bundled with the module, which
    every call and pipeline of a PowerShell session (runspace) shares, as Backup-AzKeyVaultSecret
    describes. Piped files (Get-ChildItem) are restored concurrently (see -ThrottleLimit), and the
    results come out in input order. Signing in works as for Backup-AzKeyVaultSecret: an Az context
    if Az.Accounts is loaded and has one (or -DefaultProfile; a Managed HSM's token comes from its
    own resource), otherwise the executable's own chain.

    .PARAMETER VaultName
    Specifies the name of the key vault into which to restore the key.

    .PARAMETER HsmName
    Specifies the name of the Managed HSM into which to restore the key.

    .PARAMETER InputObject
    The key vault to restore into, as Get-AzKeyVault emits it: any object with a VaultName property.
    Other objects fail with the error id InvalidInputObject and the pipeline goes on.

    .PARAMETER HsmObject
    The Managed HSM to restore into, as Get-AzKeyVaultManagedHsm emits it: any object with a
    VaultName property. Other objects fail with the error id InvalidInputObject.

    .PARAMETER ResourceId
    The resource id of the key vault to restore into
    (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.KeyVault/vaults/<name>); also
    taken from the ResourceId property of piped objects. Another text fails with InvalidResourceId.

    .PARAMETER HsmResourceId
    The resource id of the Managed HSM to restore into
    (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.KeyVault/managedHSMs/<name>);
    also taken from the HsmResourceId property of piped objects.

    .PARAMETER InputFile
    Specifies the input file that contains the backup of the key to restore. Relative paths, ~
    and PowerShell drives are resolved against the current PowerShell location; only file-system
    paths are accepted (InvalidInputFile otherwise). Also taken from the FullName of piped files
    (Get-ChildItem), so a folder of backups restores in one pipeline. A file that does not exist
    fails with the error id InputFileNotFound before anything is sent to the vault. Alias: FullName.

    .PARAMETER DefaultProfile
    The credentials, account, tenant, and subscription used for communication with Azure (an Az
    context, as returned by Get-AzContext or Connect-AzAccount). Its tokens and cloud are
    used instead of the current context's; needs Az.Accounts loaded. Aliases: AzContext,
    AzureRmContext, AzureCredential.

    .PARAMETER ThrottleLimit
    The most restores in flight at once within one pipeline, 1 to 64; default 16. Not in Az.

    .PARAMETER WhatIf
    Shows what would happen if the cmdlet runs. The cmdlet is not run and no executable is started.

    .PARAMETER Confirm
    Prompts you for confirmation before restoring each key.

    .INPUTS
    System.IO.FileInfo (its FullName), Microsoft.Azure.Commands.KeyVault.Models.PSKeyVault, Microsoft.Azure.Commands.KeyVault.Models.PSManagedHsm, or any object with a ResourceId or HsmResourceId property.

    .OUTPUTS
    Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultKey. An object of that type name with its
    main properties (VaultName, Name, Version, Id, Enabled, Expires, NotBefore, Created, Updated,
    RecoveryLevel, Tags, KeyType, KeySize, CurveName, IsHsm).

    .EXAMPLE
    PS C:\> Restore-AzKeyVaultKey -VaultName 'MyKeyVault' -InputFile 'C:\Backup.blob'

    Vault/HSM Name : MyKeyVault
    Name           : MyKey
    Version        : 7f2d0a7d5b8a4f1b9a7c2e3d4f5a6b7c
    Id             : https://mykeyvault.vault.azure.net/keys/MyKey/7f2d0a7d5b8a4f1b9a7c2e3d4f5a6b7c

    Restores the key in the file C:\Backup.blob into the key vault MyKeyVault.

    .EXAMPLE
    PS C:\> Restore-AzKeyVaultKey -HsmName 'MyHsm' -InputFile 'C:\Backup.blob'

    Restores the key in the file C:\Backup.blob into the Managed HSM MyHsm.

    .EXAMPLE
    PS C:\> $vault = Get-AzKeyVault -VaultName 'MyKeyVault'
    PS C:\> Restore-AzKeyVaultKey -InputObject $vault -InputFile 'C:\Backup.blob'

    Restores the key into the key vault that the $vault object names.

    .EXAMPLE
    PS C:\> Restore-AzKeyVaultKey -ResourceId '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/MyKeyVault' -InputFile 'C:\Backup.blob'

    Restores the key into the key vault with that resource id.

    .EXAMPLE
    PS C:\> Get-ChildItem ./backups/keys | Restore-AzKeyVaultKey -VaultName 'MyKeyVault'

    Restores every key backup of the folder into the key vault MyKeyVault, several at a time, the
    results in the files' order. A file that fails gives an error and the others go on.

    .EXAMPLE
    PS C:\> Get-ChildItem ./backups/secrets | Restore-AzKeyVaultSecret -VaultName 'NewVault'
    PS C:\> Get-ChildItem ./backups/keys | Restore-AzKeyVaultKey -VaultName 'NewVault'
    PS C:\> Get-ChildItem ./backups/certificates | Restore-AzKeyVaultCertificate -VaultName 'NewVault'

    A whole vault restored into NewVault from backups kept in one folder per kind (each file must be
    restored with the cmdlet of its kind; another kind's backup fails with InvalidBackup).

    .NOTES
    Differences from Az.KeyVault's Restore-AzKeyVaultKey:
    - -InputFile also binds from the pipeline by property name (FullName), so Get-ChildItem can
      feed it; piped files are restored concurrently and written out in input order.
    - Errors carry real categories and ids: InputFileNotFound/ObjectNotFound (no vault call is made),
      ItemExists/ResourceExists (the name is in use), ItemSoftDeleted/ResourceUnavailable (the name
      is deleted but not purged: recover or purge it first), InvalidBackup/InvalidData (not a backup
      of a key, corrupt, or made in another subscription or geography), AccessDenied,
      AuthenticationFailed, Throttled, ConnectionFailed, ServiceError, InvalidArgument,
      InvalidInputFile, InvalidInputObject, InvalidResourceId. Right after a purge
      the vault refuses the name for a few seconds; that is retried, not reported.
    - The output is a [pscustomobject] with the PSKeyVaultKey type name, not Az's class.
    - -ThrottleLimit is added. The caller's preference variables are obeyed as by Az's compiled
      cmdlet, also when set in a script's or a function's scope.

    .LINK
    about_Az.KeyVault.Backup

    .LINK
    Backup-AzKeyVaultKey

    .LINK
    Get-AzKeyVaultKey
    #>
    [CmdletBinding(DefaultParameterSetName = 'ByVaultName', SupportsShouldProcess)]
    [OutputType('Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultKey')]
    param(
        [Parameter(Mandatory, Position = 0, ParameterSetName = 'ByVaultName')]
        [ValidateNotNullOrEmpty()]
        [string]$VaultName,

        [Parameter(Mandatory, ParameterSetName = 'HsmByVaultName')]
        [ValidateNotNullOrEmpty()]
        [string]$HsmName,

        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ParameterSetName = 'ByInputObject')]
        [ValidateNotNullOrEmpty()]
        [object]$InputObject,

        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ParameterSetName = 'HsmByInputObject')]
        [ValidateNotNullOrEmpty()]
        [object]$HsmObject,

        [Parameter(Mandatory, Position = 0, ValueFromPipelineByPropertyName, ParameterSetName = 'ByResourceId')]
        [ValidateNotNullOrEmpty()]
        [string]$ResourceId,

        [Parameter(Mandatory, ValueFromPipelineByPropertyName, ParameterSetName = 'HsmByResourceId')]
        [ValidateNotNullOrEmpty()]
        [string]$HsmResourceId,

        [Parameter(Mandatory, Position = 1, ValueFromPipelineByPropertyName)]
        [ValidateNotNullOrEmpty()]
        [Alias('FullName')]
        [string]$InputFile,

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
        $pipelineState = Start-ItemPipeline -Cmdlet $PSCmdlet -Operation 'restore' -Kind 'key' -ThrottleLimit $ThrottleLimit -DefaultProfile $DefaultProfile
    }

    process {
        $finished = $false
        try {
            # One vault (or HSM) object and one resource id reach the item, whichever set bound them.
            $container = $InputObject
            if ($null -ne $HsmObject) { $container = $HsmObject }
            $resource = $ResourceId
            if ($HsmResourceId) { $resource = $HsmResourceId }
            Invoke-RestoreItem -State $pipelineState -ParameterSetName $PSCmdlet.ParameterSetName -VaultName $VaultName -HsmName $HsmName -InputObject $container -ResourceId $resource -InputFile $InputFile
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
