function Invoke-RestoreItem {
    # The per-item path of the Restore cmdlets (the pipeline's kind: secret, key or certificate):
    # which vault or Managed HSM (a name, a vault object, a resource id or a secret URI, as the
    # parameter set says), ShouldProcess on it, -InputFile against the PowerShell location, and one
    # 'restore' line. Whether the file exists is the executable's to say, before any vault call.
    param(
        [hashtable]$State,
        [string]$ParameterSetName,
        [string]$VaultName,
        [string]$HsmName,
        $InputObject,
        [string]$ResourceId,
        [string]$Id,
        [string]$InputFile
    )
    $cmdlet = $State.Cmdlet
    $failure = $null
    if ($ParameterSetName -eq $script:SetByVaultName) { }
    elseif ($ParameterSetName -eq $script:SetHsmByVaultName) { $VaultName = $null }
    elseif ($ParameterSetName -eq $script:SetByInputObject -or $ParameterSetName -eq $script:SetHsmByInputObject) {
        $container = Get-VaultIdentity -InputObject $InputObject
        if ($null -eq $container) {
            $typeName = 'null'
            if ($null -ne $InputObject) { $typeName = $InputObject.GetType().FullName }
            $what = 'a key vault, like the objects Get-AzKeyVault emits'
            if ($ParameterSetName -eq $script:SetHsmByInputObject) { $what = 'a Managed HSM, like the objects Get-AzKeyVaultManagedHsm emits' }
            $failure = New-ErrorRecord -Message ("The input object of type '{0}' is not {1}: it needs a non-empty VaultName property." -f $typeName, $what) -ErrorId 'InvalidInputObject' -Category InvalidArgument -TargetObject $InputObject
        }
        elseif ($ParameterSetName -eq $script:SetHsmByInputObject) { $HsmName = $container; $VaultName = $null }
        else { $VaultName = $container }
    }
    elseif ($ParameterSetName -eq $script:SetByParentResourceId -or $ParameterSetName -eq $script:SetByResourceId -or $ParameterSetName -eq $script:SetHsmByResourceId) {
        $container = Get-ResourceIdName -ResourceId $ResourceId
        if ($null -eq $container) {
            $failure = New-ErrorRecord -Message ("'{0}' is not an Azure resource id: give one like /subscriptions/<subscription>/resourceGroups/<group>/providers/Microsoft.KeyVault/vaults/<name>." -f $ResourceId) -ErrorId 'InvalidResourceId' -Category InvalidArgument -TargetObject $ResourceId
        }
        elseif ($ParameterSetName -eq $script:SetHsmByResourceId) { $HsmName = $container; $VaultName = $null }
        else { $VaultName = $container }
    }
    elseif ($ParameterSetName -eq $script:SetBySecretUri) {
        $parts = Get-SecretUriParts -Id $Id
        if ($null -eq $parts) {
            $failure = New-ErrorRecord -Message ("'{0}' is not a Key Vault secret URI: give one like https://myvault.vault.azure.net/secrets/mysecret." -f $Id) -ErrorId 'InvalidSecretId' -Category InvalidArgument -TargetObject $Id
        }
        else { $VaultName = $parts.VaultName }
    }
    else { throw ('Unknown parameter set {0}' -f $ParameterSetName) }
    if ($null -ne $failure) {
        Add-LocalError -State $State -ErrorRecord $failure
        Sync-Output -State $State
        return
    }

    $container = $VaultName
    if ($HsmName) { $container = $HsmName }
    if (-not $cmdlet.ShouldProcess($container, $State.Action)) {
        Sync-Output -State $State
        return
    }

    $path = Resolve-InputFile -Cmdlet $cmdlet -InputFile $InputFile -TargetObject $InputFile
    if ($path -is [System.Management.Automation.ErrorRecord]) {
        Add-LocalError -State $State -ErrorRecord $path
        Sync-Output -State $State
        return
    }

    $plain = $script:PlainJsonText
    if ($HsmName) { $fields = ',"hsmName":' } else { $fields = ',"vaultName":' }
    if ($plain.IsMatch($container)) { $fields += '"' + $container + '"' } else { $fields += ConvertTo-JsonString -Value $container }
    if ($plain.IsMatch($path)) { $fields += ',"inputFile":"' + $path + '"' } else { $fields += ',"inputFile":' + (ConvertTo-JsonString -Value $path) }
    [void](Send-ItemRequest $State 'restore' $fields $path)
}
