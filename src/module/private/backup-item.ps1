function Invoke-BackupItem {
    # The per-item path: only what PowerShell must do (identity, ShouldProcess, the path against
    # the PowerShell location, the overwrite prompt) and one protocol line. Everything an item
    # shares with the others went once, in the pipeline's 'begin'.
    param(
        [hashtable]$State,
        [string]$ParameterSetName,
        [string]$VaultName,
        [string]$Name,
        $InputObject,
        [string]$Id,
        [string]$OutputFile,
        [bool]$Force
    )
    $cmdlet = $State.Cmdlet
    $secretId = $null
    $targetObject = $Name
    if ($ParameterSetName -eq $script:SetBySecret) {
        $targetObject = $InputObject
        # The common case inline (an object with string VaultName and Name, as Get-AzKeyVaultSecret
        # emits): a call per item costs more than the rest of the item's work.
        $identity = $null
        $properties = $InputObject.PSObject.Properties
        $vaultProperty = $properties['VaultName']
        $nameProperty = $properties['Name']
        if ($null -ne $vaultProperty -and $null -ne $nameProperty -and $vaultProperty.Value -is [string] -and $nameProperty.Value -is [string] -and $vaultProperty.Value.Length -gt 0 -and $nameProperty.Value.Length -gt 0 -and $InputObject.PSObject.BaseObject -isnot [System.Collections.IDictionary]) {
            $identity = @{ VaultName = $vaultProperty.Value; Name = $nameProperty.Value }
        }
        else { $identity = Get-SecretIdentity -InputObject $InputObject }
        if ($null -eq $identity) {
            $typeName = 'null'
            if ($null -ne $InputObject) { $typeName = $InputObject.GetType().FullName }
            Add-LocalError -State $State -ErrorRecord (New-ErrorRecord -Message ("The input object of type '{0}' is not a Key Vault secret: it needs non-empty VaultName and Name properties, like the objects Get-AzKeyVaultSecret emits." -f $typeName) -ErrorId 'InvalidInputObject' -Category InvalidArgument -TargetObject $InputObject)
            Sync-Output -State $State
            return
        }
        $VaultName = $identity.VaultName
        $Name = $identity.Name
    }
    elseif ($ParameterSetName -eq $script:SetBySecretUri) {
        $secretId = $Id
        $parts = Get-SecretUriParts -Id $Id
        if ($null -ne $parts) { $VaultName = $parts.VaultName; $Name = $parts.Name; $targetObject = $parts.Name }
        else { $VaultName = $null; $Name = $null; $targetObject = $Id }
    }
    elseif ($ParameterSetName -ne $script:SetBySecretName) {
        throw ('Unknown parameter set {0}' -f $ParameterSetName)
    }

    $shouldProcessTarget = $Name
    if (-not $shouldProcessTarget) { $shouldProcessTarget = $Id }
    if (-not $cmdlet.ShouldProcess($shouldProcessTarget, 'Backup secret')) {
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

    if ($null -eq $State.Session) { Connect-BackupPipeline -State $State }
    $session = $State.Session
    $requestId = $session.NextId
    $session.NextId = $requestId + 1
    # Plain text is its own JSON body; only other text takes the escaping call.
    $plain = $script:PlainJsonText
    $line = '{"type":"backup","pipeline":' + $State.Id + ',"id":' + $requestId
    if ($null -ne $secretId) {
        if ($plain.IsMatch($secretId)) { $line += ',"secretId":"' + $secretId + '"' } else { $line += ',"secretId":' + (ConvertTo-JsonString -Value $secretId) }
    }
    elseif ($plain.IsMatch($VaultName) -and $plain.IsMatch($Name)) { $line += ',"vaultName":"' + $VaultName + '","name":"' + $Name + '"' }
    else { $line += ',"vaultName":' + (ConvertTo-JsonString -Value $VaultName) + ',"name":' + (ConvertTo-JsonString -Value $Name) }
    if ($null -ne $file) { $path = $file; $line += ',"outputFile":' }
    else { $path = $directory; $line += ',"directory":' }
    if ($plain.IsMatch($path)) { $line += '"' + $path + '"' } else { $line += ConvertTo-JsonString -Value $path }
    if ($null -ne $file) {
        if ($null -ne $after) { $line += ',"after":' + $after }
        $State.Targets[$file] = $requestId
    }
    if ($forceWrite) { $line += ',"force":true}' } else { $line += ',"force":false}' }

    $entry = @{ Done = $false; Path = $null; Failure = $null; ErrorRecord = $null; Target = $targetObject; Id = $requestId; Logged = 0 }
    $session.Pending[[string]$requestId] = $entry
    $State.Queue.Enqueue($entry)
    $State.Accepted++
    if ($null -ne $State.BeginLine) {
        $line = $State.BeginLine + "`n" + $line
        $State.BeginLine = $null
    }
    if ($State.DebugOn) { Send-SessionLine -Session $session -Pipeline $State -Line $line }
    else {
        # The first items go out at once; after that the writer's buffer goes out whenever it is
        # full and at each sync below: one write for several items, fewer wake-ups on both sides.
        try {
            $session.Stdin.Write($line + "`n")
            if ($State.Accepted -le $script:EagerItems) { $session.Stdin.Flush() }
        }
        catch { Send-SessionLine -Session $session -Pipeline $State }
    }
    if ($State.SyncWatch.ElapsedMilliseconds -ge 20) {
        $State.SyncWatch.Restart()
        Send-SessionLine -Session $session -Pipeline $State
        Sync-Output -State $State
    }
}
