function Invoke-BackupItem {
    # The per-item path of the Backup cmdlets (the pipeline's kind: secret, key or certificate):
    # only what PowerShell must do (identity, ShouldProcess, the path against the PowerShell
    # location, the overwrite prompt) and one protocol line. Everything an item shares with the
    # others went once, in the pipeline's 'begin'.
    param(
        [hashtable]$State,
        [string]$ParameterSetName,
        [string]$VaultName,
        [string]$HsmName,
        [string]$Name,
        $InputObject,
        [string]$Id,
        [string]$OutputFile,
        [bool]$Force
    )
    $cmdlet = $State.Cmdlet
    $secretId = $null
    $targetObject = $Name
    if ($ParameterSetName -eq $script:SetBySecret -or $ParameterSetName -eq $script:SetByKey -or $ParameterSetName -eq $script:SetByCertificate) {
        $targetObject = $InputObject
        # The common case inline (an object with string VaultName and Name, as Get-AzKeyVaultSecret
        # emits): a call per item costs more than the rest of the item's work.
        $identity = $null
        $properties = $InputObject.PSObject.Properties
        $vaultProperty = $properties['VaultName']
        $nameProperty = $properties['Name']
        if ($null -ne $vaultProperty -and $null -ne $nameProperty -and $vaultProperty.Value -is [string] -and $nameProperty.Value -is [string] -and $vaultProperty.Value.Length -gt 0 -and $nameProperty.Value.Length -gt 0 -and $InputObject.PSObject.BaseObject -isnot [System.Collections.IDictionary]) {
            $identity = @{ VaultName = $vaultProperty.Value; Name = $nameProperty.Value; IsHsm = $false }
            if ($State.Kind -eq 'key') {
                $hsmProperty = $properties['IsHsm']
                $identity.IsHsm = $null -ne $hsmProperty -and $hsmProperty.Value -is [bool] -and $hsmProperty.Value
            }
        }
        else { $identity = Get-ItemIdentity -InputObject $InputObject }
        if ($null -eq $identity) {
            $typeName = 'null'
            if ($null -ne $InputObject) { $typeName = $InputObject.GetType().FullName }
            Add-LocalError -State $State -ErrorRecord (New-ErrorRecord -Message ("The input object of type '{0}' is not a Key Vault {1}: it needs non-empty VaultName and Name properties, like the objects {2} emits." -f $typeName, $State.Noun, $State.Getter) -ErrorId 'InvalidInputObject' -Category InvalidArgument -TargetObject $InputObject)
            Sync-Output -State $State
            return
        }
        $Name = $identity.Name
        # A key object of a Managed HSM goes down the HSM path, as in Az.
        if ($identity.IsHsm -and $State.Kind -eq 'key') { $HsmName = $identity.VaultName; $VaultName = $null }
        else { $VaultName = $identity.VaultName }
    }
    elseif ($ParameterSetName -eq $script:SetBySecretUri) {
        $secretId = $Id
        $parts = Get-SecretUriParts -Id $Id
        if ($null -ne $parts) { $VaultName = $parts.VaultName; $Name = $parts.Name; $targetObject = $parts.Name }
        else { $VaultName = $null; $Name = $null; $targetObject = $Id }
    }
    elseif ($ParameterSetName -eq $script:SetHsmByKeyName) { $VaultName = $null }
    elseif ($ParameterSetName -ne $script:SetBySecretName -and $ParameterSetName -ne $script:SetByKeyName -and $ParameterSetName -ne $script:SetByCertificateName) {
        throw ('Unknown parameter set {0}' -f $ParameterSetName)
    }

    $shouldProcessTarget = $Name
    if (-not $shouldProcessTarget) { $shouldProcessTarget = $Id }
    if (-not $cmdlet.ShouldProcess($shouldProcessTarget, $State.Action)) {
        Sync-Output -State $State
        return
    }

    $forceWrite = $Force
    $target = $null
    $after = $null
    $file = $null
    if ($OutputFile) {
        # -OutputFile is bound once per pipeline: resolved again only when the location it is
        # relative to has changed (an upstream command may Set-Location).
        $location = $cmdlet.SessionState.Path.CurrentLocation.Path
        # Ordinal: a location that differs only in case is another directory on Linux.
        if ($null -ne $State.ResolvedTarget -and [string]::Equals($State.ResolvedFrom, $location, [System.StringComparison]::Ordinal)) { $target = $State.ResolvedTarget }
        else {
            $target = Resolve-OutputFile -Cmdlet $cmdlet -OutputFile $OutputFile -TargetObject $targetObject
            if ($target -isnot [System.Management.Automation.ErrorRecord]) { $State.ResolvedTarget = $target; $State.ResolvedFrom = $location }
        }
        if ($target -is [System.Management.Automation.ErrorRecord]) {
            Add-LocalError -State $State -ErrorRecord $target
            Sync-Output -State $State
            return
        }
    }
    # An existing directory named without a trailing separator means "default names inside it", as
    # Az's users expect of a folder: nothing to overwrite, and no item waits for another.
    if ($null -ne $target -and -not $target.IsDirectory -and -not [System.IO.Directory]::Exists($target.Path)) {
        $file = $target.Path
        # A directory gets a fresh default name inside it, so there is nothing to overwrite. A path
        # already targeted earlier in this pipeline counts as existing: its file may not be written yet.
        $earlier = [long]0
        $targetedBefore = $State.Targets.TryGetValue($file, [ref]$earlier)
        if ($targetedBefore) { $after = $earlier }
        $exists = $targetedBefore -or [System.IO.File]::Exists($file)
        if ($exists -and -not $Force) {
            $yesToAll = [bool]$State.YesToAll
            $noToAll = [bool]$State.NoToAll
            $confirmed = $false
            $promptFailure = $null
            try {
                $confirmed = $cmdlet.ShouldContinue(("Overwrite existing file at '{0}' ?" -f $file), 'Overwrite File ?', [ref]$yesToAll, [ref]$noToAll)
            }
            catch {
                if ($_.Exception -is [System.Management.Automation.PipelineStoppedException]) { throw }
                $promptFailure = $_.Exception
            }
            $State.YesToAll = $yesToAll
            $State.NoToAll = $noToAll
            if ($null -ne $promptFailure) {
                # No prompt is possible here (-NonInteractive, a runbook): the request goes without
                # force, and the executable refuses it with its FileExists error before any vault
                # call, so the file stays untouched and the refusal has one wording.
                if ($State.VerboseOn) { Write-Verbose ("Cannot ask whether to overwrite '{0}': {1}" -f $file, $promptFailure.Message) }
            }
            elseif (-not $confirmed) {
                Write-Verbose ("Not overwriting '{0}'." -f $file)
                Sync-Output -State $State
                return
            }
            else { $forceWrite = $true }
        }
    }
    else {
        if ($null -ne $target) { $directory = $target.Path }
        else { $directory = $cmdlet.SessionState.Path.CurrentFileSystemLocation.ProviderPath }
    }

    # Plain text is its own JSON body; only other text takes the escaping call.
    $plain = $script:PlainJsonText
    if ($null -ne $secretId) {
        if ($plain.IsMatch($secretId)) { $fields = ',"secretId":"' + $secretId + '"' } else { $fields = ',"secretId":' + (ConvertTo-JsonString -Value $secretId) }
    }
    else {
        if ($HsmName) { $fields = ',"hsmName":'; $container = $HsmName } else { $fields = ',"vaultName":'; $container = $VaultName }
        if ($plain.IsMatch($container) -and $plain.IsMatch($Name)) { $fields += '"' + $container + '","name":"' + $Name + '"' }
        else { $fields += (ConvertTo-JsonString -Value $container) + ',"name":' + (ConvertTo-JsonString -Value $Name) }
    }
    if ($null -ne $file) { $path = $file; $fields += ',"outputFile":' }
    else { $path = $directory; $fields += ',"directory":' }
    if ($plain.IsMatch($path)) { $fields += '"' + $path + '"' } else { $fields += ConvertTo-JsonString -Value $path }
    if ($null -ne $after) { $fields += ',"after":' + $after }
    if ($forceWrite) { $fields += ',"force":true' } else { $fields += ',"force":false' }
    $requestId = Send-ItemRequest $State 'backup' $fields $targetObject
    if ($null -ne $file) { $State.Targets[$file] = $requestId }
}
