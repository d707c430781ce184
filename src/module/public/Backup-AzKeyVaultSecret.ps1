function Backup-AzKeyVaultSecret {
    <#
    .SYNOPSIS
    Backs up a secret in a key vault.

    .DESCRIPTION
    The Backup-AzKeyVaultSecret cmdlet backs up a specified secret in a key vault by downloading it
    and storing it in a file. If there are multiple versions of the secret, all versions are included
    in the backup. Because the downloaded content is encrypted, it cannot be used outside of Azure Key
    Vault. You can restore a backed-up secret to any key vault in the subscription that it was backed
    up from (Restore-AzKeyVaultSecret, or az keyvault secret restore: the files are the same bytes).

    This module is a drop-in for the Az.KeyVault cmdlet of the same name and does not need the Az
    modules. The work is done by the az-keyvault-backup executable bundled with the module. The
    first call in a PowerShell session (runspace) starts it, and every later call and pipeline
    reuses it, with its sign-in and connections, so a foreach loop of single calls costs about what
    Az's own cmdlet does. It backs up piped secrets concurrently (see -ThrottleLimit) and writes each
    file atomically. Results come out in input order. It ends when PowerShell or the module is
    removed, or after 5 minutes without a call ($env:AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS sets
    that; 0 gives a new executable for every call); a change of the environment (the vault URL
    override, proxy, CA file, AZURE_*, IDENTITY_* variables) starts a new one for the next call.

    Signing in works as for Az: when Az.Accounts is loaded and has a context (Connect-AzAccount,
    interactively, with a service principal or -Identity in a runbook), or -DefaultProfile is
    given, the Key Vault token comes from that context (Get-AzAccessToken) and its cloud decides the
    vault DNS suffix (vault.azure.cn, vault.usgovcloudapi.net, ...). The token goes to the executable
    over its standard input only, and is asked for again when it nears expiry or the vault names
    another tenant. Az is never imported by this module.

    Without an Az context the executable signs in with the environment, workload identity, managed
    identity (App Service, Azure Automation), Azure CLI, Azure PowerShell or Azure Developer CLI
    credentials, in that order. If nothing can sign in, one terminating error with the id
    AuthenticationFailed (category AuthenticationError) says what was tried and what to do.

    .PARAMETER VaultName
    Specifies the name of the key vault that contains the secret to back up.

    .PARAMETER Name
    Specifies the name of the secret to back up. Alias: SecretName.

    .PARAMETER InputObject
    Secret to be backed up, pipelined in from the output of a retrieval call (Get-AzKeyVaultSecret).
    Any object with VaultName and Name properties is accepted; other objects fail with the error id
    InvalidInputObject and the pipeline goes on. Alias: Secret.

    .PARAMETER Id
    The secret's URI, for example https://myvault.vault.azure.net/secrets/mysecret. A version
    segment is ignored: a backup holds all versions. Alias: SecretId.

    .PARAMETER OutputFile
    Specifies the output file in which the backup blob is stored. Relative paths, ~ and PowerShell
    drives are resolved against the current PowerShell location. If you do not specify this
    parameter, a file named <vault>-<secret>-<seconds since 1970> (lower-cased) is created in the
    current PowerShell location. If it names an existing directory, that default file name is used
    inside the directory. A path ending in / or \ always names a directory: if it does not exist
    the item fails with the error id OutputDirectoryNotFound and nothing is written (without the
    separator a missing path is a file, as in Az). Only file-system paths are accepted; a path of
    another provider (Variable:, Env:, HKCU:) fails with InvalidOutputFile.
    If the file exists, you are asked whether to overwrite it unless -Force
    is given; where no prompt is possible (pwsh -NonInteractive, runbooks) the item fails with the
    error id FileExists and the file is left untouched.

    .PARAMETER Force
    Overwrites an existing output file without asking. -Confirm:$false does not do this.

    .PARAMETER DefaultProfile
    The credentials, account, tenant, and subscription used for communication with Azure (an Az
    context, as returned by Get-AzContext or Connect-AzAccount). Its Key Vault token and cloud are
    used instead of the current context's; needs Az.Accounts loaded. Aliases: AzContext,
    AzureRmContext, AzureCredential.

    .PARAMETER ThrottleLimit
    The most backups in flight at once within one pipeline, 1 to 64; default 16. Not in Az.

    .PARAMETER WhatIf
    Shows what would happen if the cmdlet runs. The cmdlet is not run and no executable is started.

    .PARAMETER Confirm
    Prompts you for confirmation before backing up each secret.

    .INPUTS
    Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultSecretIdentityItem, or any object with VaultName and Name properties.

    .OUTPUTS
    System.String. The full path of each backup file.

    .EXAMPLE
    PS C:\Users\username\> Backup-AzKeyVaultSecret -VaultName 'MyKeyVault' -Name 'MySecret'

    C:\Users\username\mykeyvault-mysecret-1527029447.01191

    Backs up the secret MySecret of the key vault MyKeyVault to a file with an automatically
    generated name in the current location, and writes the file's path.

    .EXAMPLE
    PS C:\> Backup-AzKeyVaultSecret -VaultName 'MyKeyVault' -Name 'MySecret' -OutputFile 'C:\Backup.blob' -Force

    C:\Backup.blob

    Backs up the secret MySecret to the file C:\Backup.blob, overwriting it without prompting if it exists.

    .EXAMPLE
    PS C:\> $secret = Get-AzKeyVaultSecret -VaultName 'MyKeyVault' -Name 'MySecret'
    PS C:\> Backup-AzKeyVaultSecret -Secret $secret -OutputFile 'C:\Backup.blob'

    C:\Backup.blob

    Uses the $secret object's vault name and name to back up the secret to the file C:\Backup.blob.

    .EXAMPLE
    PS C:\> Get-AzKeyVaultSecret -VaultName 'MyKeyVault' | Backup-AzKeyVaultSecret -OutputFile ./backups -Force

    Backs up every secret of the vault MyKeyVault into the existing directory ./backups, one file
    per secret with its default name, several at a time. A secret that fails (for example a
    certificate-backed one) gives an error and the others go on.

    .EXAMPLE
    PS C:\> foreach ($name in 'db-password', 'api-key') { Backup-AzKeyVaultSecret -VaultName 'MyKeyVault' -Name $name -OutputFile "./backups/$name.blob" }

    One call per secret, as existing Az scripts do: the first call starts the executable and signs
    in, the later ones reuse it.

    .EXAMPLE
    PS C:\> New-Item -ItemType Directory ./backups -Force | Out-Null
    PS C:\> Get-AzKeyVaultSecret -VaultName 'MyKeyVault' | Backup-AzKeyVaultSecret -OutputFile ./backups
    PS C:\> Get-AzKeyVaultKey -VaultName 'MyKeyVault' | Backup-AzKeyVaultKey -OutputFile ./backups
    PS C:\> Get-AzKeyVaultCertificate -VaultName 'MyKeyVault' | Backup-AzKeyVaultCertificate -OutputFile ./backups

    A whole vault backed up: its secrets, keys and certificates, one file each. A certificate's own
    secret and key fail with the error id ManagedByCertificate: they are in the certificate's backup.

    .NOTES
    Differences from Az.KeyVault's Backup-AzKeyVaultSecret:
    - Several piped secrets without -OutputFile each get their own default file name (Az reuses the
      first name). Default names are lower-cased and use the platform's path separator.
    - -OutputFile may name an existing directory: each secret's default file name is used inside it.
    - Within one pipeline, a second item aimed at the same -OutputFile counts as an existing file.
    - Errors carry real categories and ids (SecretNotFound/ObjectNotFound, AccessDenied/PermissionDenied,
      ManagedByCertificate/InvalidOperation for a certificate's own secret, AuthenticationFailed,
      Throttled, ConnectionFailed, FileExists/ResourceExists, WriteFailed, ServiceError,
      InvalidArgument, InvalidInputObject) and the service's own message.
    - When signing in fails, the pipeline ends with one terminating AuthenticationFailed error
      instead of one error per secret.
    - -ThrottleLimit is added. Piping $null or an empty string fails in parameter binding as it does in Az.
    - Files are written atomically; a stopped pipeline leaves no partial file behind.
    - As with Az's compiled cmdlet, the caller's preference variables ($ErrorActionPreference,
      $WhatIfPreference, $ConfirmPreference, $VerbosePreference and the others) are obeyed, also when
      set in a script's or a function's scope; an explicit common parameter wins over them. Each call
      ends with one information record summing it up (see -InformationVariable).

    .LINK
    about_Az.KeyVault.Backup

    .LINK
    Restore-AzKeyVaultSecret

    .LINK
    Get-AzKeyVaultSecret
    #>
    [CmdletBinding(DefaultParameterSetName = 'BySecretName', SupportsShouldProcess)]
    [OutputType([string])]
    param(
        [Parameter(Mandatory, Position = 0, ParameterSetName = 'BySecretName')]
        [ValidateNotNullOrEmpty()]
        [string]$VaultName,

        [Parameter(Mandatory, Position = 1, ParameterSetName = 'BySecretName')]
        [ValidateNotNullOrEmpty()]
        [Alias('SecretName')]
        [string]$Name,

        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ParameterSetName = 'BySecret')]
        [ValidateNotNullOrEmpty()]
        [Alias('Secret')]
        [object]$InputObject,

        [Parameter(Mandatory, Position = 0, ParameterSetName = 'BySecretUri')]
        [ValidateNotNullOrEmpty()]
        [Alias('SecretId')]
        [string]$Id,

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
        $pipelineState = Start-ItemPipeline -Cmdlet $PSCmdlet -Operation 'backup' -Kind 'secret' -ThrottleLimit $ThrottleLimit -DefaultProfile $DefaultProfile
    }

    process {
        $finished = $false
        try {
            Invoke-BackupItem -State $pipelineState -ParameterSetName $PSCmdlet.ParameterSetName -VaultName $VaultName -Name $Name -InputObject $InputObject -Id $Id -OutputFile $OutputFile -Force $Force.IsPresent
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
        # PowerShell 7.3 and later run this however the pipeline ended, also when it was stopped
        # while an upstream command ran (when neither process's finally nor end runs). The build
        # leaves this block out of the variant older versions load, which rely on Stop-StalePipeline
        # and the module's OnRemove instead. A begin block that failed leaves $pipelineState $null.
        Stop-UnfinishedPipeline -State $pipelineState
    }
}
