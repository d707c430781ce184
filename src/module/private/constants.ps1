# Constants of the module: every file may read them; none changes them.

# Attribute arguments must be literals, so the param block repeats these names; the body compares
# against the constants so a typo there fails loudly instead of silently choosing no branch.
Set-Variable -Scope Script -Option Constant -Name SetBySecretName -Value 'BySecretName'
Set-Variable -Scope Script -Option Constant -Name SetBySecret -Value 'BySecret'
Set-Variable -Scope Script -Option Constant -Name SetBySecretUri -Value 'BySecretUri'
Set-Variable -Scope Script -Option Constant -Name SetByKeyName -Value 'ByKeyName'
Set-Variable -Scope Script -Option Constant -Name SetByKey -Value 'ByKey'
Set-Variable -Scope Script -Option Constant -Name SetHsmByKeyName -Value 'HsmByKeyName'
Set-Variable -Scope Script -Option Constant -Name SetByCertificateName -Value 'ByCertificateName'
Set-Variable -Scope Script -Option Constant -Name SetByCertificate -Value 'ByCertificate'
# The Restore cmdlets' sets (BySecretUri above is Restore-AzKeyVaultSecret's too).
Set-Variable -Scope Script -Option Constant -Name SetByVaultName -Value 'ByVaultName'
Set-Variable -Scope Script -Option Constant -Name SetByInputObject -Value 'ByInputObject'
Set-Variable -Scope Script -Option Constant -Name SetByParentResourceId -Value 'ByParentResourceId'
Set-Variable -Scope Script -Option Constant -Name SetByResourceId -Value 'ByResourceId'
Set-Variable -Scope Script -Option Constant -Name SetHsmByVaultName -Value 'HsmByVaultName'
Set-Variable -Scope Script -Option Constant -Name SetHsmByInputObject -Value 'HsmByInputObject'
Set-Variable -Scope Script -Option Constant -Name SetHsmByResourceId -Value 'HsmByResourceId'

# What each item kind is called, in messages, progress and the objects a restore writes. The kind
# is a setting of the pipeline ('begin'), since each cmdlet is about one kind.
Set-Variable -Scope Script -Option Constant -Name ItemKinds -Value @{
    secret      = @{ Noun = 'secret'; Plural = 'secrets'; Getter = 'Get-AzKeyVaultSecret'; TypeName = 'Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultSecret' }
    key         = @{ Noun = 'key'; Plural = 'keys'; Getter = 'Get-AzKeyVaultKey'; TypeName = 'Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultKey' }
    certificate = @{ Noun = 'certificate'; Plural = 'certificates'; Getter = 'Get-AzKeyVaultCertificate'; TypeName = 'Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultCertificate' }
}

Set-Variable -Scope Script -Option Constant -Name ProtocolVersion -Value 3
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
# A Managed HSM's token audience when the Az environment names none (ManagedHsmServiceEndpointResourceId).
Set-Variable -Scope Script -Option Constant -Name PublicManagedHsmResource -Value 'https://managedhsm.azure.net'
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

# The begin block of every public function dot-sources this (`. $script:ImportCallerPreference`), so
# that it runs in that function's own scope. A script module's function sees the module's and the
# global scope, not its caller's: a runbook's top-level $ErrorActionPreference = 'Stop' would not
# reach it, where it does reach Az's compiled cmdlet. So each preference the caller did not override
# with a common parameter is taken from the caller's scope into the function's own scope, where
# WriteError, ShouldProcess, Write-Verbose and Write-Progress read it. Dot-sourced, not a helper
# function, which would set its own scope; and through the engine's API, not Set-Variable, which
# would itself obey the $WhatIfPreference just taken.
$script:ImportCallerPreference = {
    foreach ($preference in $script:CallerPreferences.GetEnumerator()) {
        if ($PSCmdlet.MyInvocation.BoundParameters.ContainsKey($preference.Key)) { continue }
        $callerValue = $PSCmdlet.SessionState.PSVariable.GetValue($preference.Value)
        if ($null -ne $callerValue) { $ExecutionContext.SessionState.PSVariable.Set($preference.Value, $callerValue) }
    }
    # Windows PowerShell maps -Debug to Inquire, which would prompt on every protocol line.
    if ($PSCmdlet.MyInvocation.BoundParameters.ContainsKey('Debug') -and $DebugPreference -eq 'Inquire') { $DebugPreference = 'Continue' }
}
