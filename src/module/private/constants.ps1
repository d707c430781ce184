# Constants of the module: every file may read them; none changes them.

# Attribute arguments must be literals, so the param block repeats these names; the body compares
# against the constants so a typo there fails loudly instead of silently choosing no branch.
Set-Variable -Scope Script -Option Constant -Name SetBySecretName -Value 'BySecretName'
Set-Variable -Scope Script -Option Constant -Name SetBySecret -Value 'BySecret'
Set-Variable -Scope Script -Option Constant -Name SetBySecretUri -Value 'BySecretUri'

Set-Variable -Scope Script -Option Constant -Name ProtocolVersion -Value 2
Set-Variable -Scope Script -Option Constant -Name ExecutableBaseName -Value 'az-keyvault-backup'
Set-Variable -Scope Script -Option Constant -Name HandshakeTimeoutMs -Value 60000
Set-Variable -Scope Script -Option Constant -Name AbortGraceMs -Value 2000
Set-Variable -Scope Script -Option Constant -Name StderrTailLines -Value 40
Set-Variable -Scope Script -Option Constant -Name ResultBatchMs -Value 10
# Items of a pipeline written to the executable one flush each, before batching takes over.
Set-Variable -Scope Script -Option Constant -Name EagerItems -Value 4
# How long the session executable waits for the next call before it ends; 0 means a new one for
# every call. An environment variable, so changing it starts a new executable like any other setting.
Set-Variable -Scope Script -Option Constant -Name IdleSecondsVariable -Value 'AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS'
Set-Variable -Scope Script -Option Constant -Name DefaultIdleSeconds -Value 300
Set-Variable -Scope Script -Option Constant -Name SessionRegistryName -Value 'Az.KeyVault.Backup.Sessions'
Set-Variable -Scope Script -Option Constant -Name PublicKeyVaultResource -Value 'https://vault.azure.net'
# When Get-AzAccessToken gives no readable expiry: well over the executable's 2-minute margin, or
# every item would fetch a token again; shorter than Entra's shortest token lifetime (an hour).
Set-Variable -Scope Script -Option Constant -Name UnknownTokenLifetimeSeconds -Value 3000

# The common parameter that overrides each preference variable: when the caller bound it, PowerShell
# has already set the variable in the function's scope and the caller's value must not replace it.
# ProgressAction exists from PowerShell 7.4 only; before that it is simply never bound.
$script:CallerPreferences = [ordered]@{
    ErrorAction       = 'ErrorActionPreference'
    WarningAction     = 'WarningPreference'
    InformationAction = 'InformationPreference'
    ProgressAction    = 'ProgressPreference'
    Verbose           = 'VerbosePreference'
    Debug             = 'DebugPreference'
    WhatIf            = 'WhatIfPreference'
    Confirm           = 'ConfirmPreference'
}
