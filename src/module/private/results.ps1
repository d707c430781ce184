function Write-ReadyEntry {
    # The one place results are put in order: output strictly in input order, local failures
    # waiting behind earlier requests in flight.
    param([hashtable]$State)
    try {
        while ($State.Queue.Count -gt 0) {
            $head = $State.Queue.Peek()
            if (-not $head.Done) { return }
            if ($head.Logged -gt $State.LoggedSeen) { Wait-PipelineDiagnostics -State $State -Count $head.Logged }
            [void]$State.Queue.Dequeue()
            $State.Completed++
            if ($null -ne $head.ErrorRecord) {
                $State.Cmdlet.WriteError($head.ErrorRecord)
            }
            elseif ($null -eq $head.Failure) {
                $State.Succeeded++
                # A backup's result is the file's path; a restore's, the item it brought back.
                if ($null -eq $head.Item) { $State.Cmdlet.WriteObject($head.Path) }
                else { $State.Cmdlet.WriteObject((ConvertTo-RestoredItem -Item $head.Item -Kind $State.Kind)) }
            }
            else {
                $failure = $head.Failure
                # The executable composed the whole message; only its category is mapped here.
                $record = New-ErrorRecord -Message ([string]$failure.message) -ErrorId ([string]$failure.errorId) -Category (ConvertTo-ErrorCategory -Name ([string]$failure.category)) -TargetObject $head.Target
                # Signing in fails the same way for every item: one terminating error for the pipeline
                # instead of one per item (the executable fails the rest at once with the same error).
                if ([string]$failure.errorId -eq 'AuthenticationFailed') { $State.Cmdlet.ThrowTerminatingError($record) }
                $State.Cmdlet.WriteError($record)
            }
        }
    }
    catch [System.Management.Automation.MethodInvocationException] {
        # A command further down the pipeline threw while WriteObject/WriteError handed it an item:
        # called as a method, PowerShell wraps its error. The caller gets that command's own error,
        # as from a compiled cmdlet, so its id and a typed catch still match.
        $inner = $_.Exception.InnerException
        if ($inner -is [System.Management.Automation.IContainsErrorRecord] -and $null -ne $inner.ErrorRecord) { throw $inner.ErrorRecord }
        if ($null -ne $inner) { throw $inner }
        throw
    }
}

function Wait-PipelineDiagnostics {
    # stderr is read apart from stdout: a result is shown only once the diagnostics the executable
    # wrote before it (a throttling warning, -Verbose lines) have been read and shown.
    param([hashtable]$State, [int]$Count)
    $session = $State.Session
    if ($null -eq $session) { return }
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    while ($State.LoggedSeen -lt $Count -and -not $session.StderrEof -and $watch.ElapsedMilliseconds -lt $script:AbortGraceMs) {
        Read-SessionStream -Session $session -Pipeline $State -TimeoutMs 20
    }
}

function Add-LocalError {
    param([hashtable]$State, [System.Management.Automation.ErrorRecord]$ErrorRecord)
    $State.Queue.Enqueue(@{ Done = $true; ErrorRecord = $ErrorRecord; Id = $null; Logged = 0 })
    $State.Accepted++
}

function Sync-Output {
    # Non-blocking: emit whatever is ready without waiting for the executable.
    param([hashtable]$State)
    $session = $State.Session
    if ($null -ne $session) { Read-SessionStream -Session $session -Pipeline $State }
    Write-ReadyEntry -State $State
    Write-BackupProgress -State $State
    if ($null -ne $session) { Assert-SessionHealthy -State $State }
}
