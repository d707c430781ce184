# Pipelines begun in a session and not yet answered: one stopped before its end block (on a host
# without a clean block) is found here and cancelled by the next call, or when the module is removed.
$script:LivePipelines = [System.Collections.Generic.List[object]]::new()

function Start-ItemPipeline {
    # The begin block of every public function, once the caller's preferences are in its scope
    # ($script:ImportCallerPreference), where this reads them: the pipeline's state and, on a
    # runspace's first call, the session executable, started without waiting for it, so it boots
    # while PowerShell binds and resolves the first item. Never under -WhatIf.
    param($Cmdlet, [string]$Operation, [string]$Kind, [int]$ThrottleLimit, $DefaultProfile)
    # Both cost a call only when there is something to look at.
    if ($script:LivePipelines.Count -gt 0) { Stop-StalePipeline }
    if ($script:SessionRegistry.Count -gt $script:Sessions.Count) { Close-OrphanedSession }
    $logLevel = 'warning'
    if ($DebugPreference -ne 'SilentlyContinue' -and $DebugPreference -ne 'Ignore') { $logLevel = 'debug' }
    elseif ($VerbosePreference -ne 'SilentlyContinue' -and $VerbosePreference -ne 'Ignore') { $logLevel = 'verbose' }
    $state = New-PipelineState -Cmdlet $Cmdlet -Operation $Operation -Kind $Kind -ThrottleLimit $ThrottleLimit -LogLevel $logLevel -DefaultProfile $DefaultProfile
    $state.InformationWanted = $Cmdlet.MyInvocation.BoundParameters.ContainsKey('InformationVariable') -or ($InformationPreference -ne 'SilentlyContinue' -and $InformationPreference -ne 'Ignore')
    if (-not $WhatIfPreference -and ($null -eq $script:Session -or $null -eq $script:Session.Process)) {
        [void](Get-BackupSession -Pipeline $state -NoWait)
    }
    return $state
}

function Complete-ItemPipeline {
    # The end block of every public function: the rest of the results, in order, and the summary.
    param([hashtable]$State)
    $finished = $false
    try {
        Complete-BackupPipeline -State $State
        $finished = $true
        Write-BackupSummary -State $State
    }
    finally {
        if ($State.ProgressShown) { Write-BackupProgress -State $State -Done }
        if (-not $finished) { Stop-BackupPipeline -State $State }
    }
}

function Connect-BackupPipeline {
    # Once per pipeline, when its first item needs the executable: sign-in, session, 'begin'.
    param($State)
    Initialize-AzSignIn -State $State
    $session = Get-BackupSession -Pipeline $State
    $State.Session = $session
    $State.Id = $session.NextPipeline
    $session.NextPipeline++
    $session.Pipelines[[string]$State.Id] = $State
    [void]$script:LivePipelines.Add($State)
    if ($State.Context) { $session.Contexts[$State.Context] = $State.SignIn }
    # Everything this pipeline's items share travels once, here.
    $begin = [ordered]@{ type = 'begin'; pipeline = $State.Id; kind = $State.Kind; concurrency = $State.ThrottleLimit; logLevel = $State.LogLevel }
    if ($State.Context) { $begin.context = $State.Context }
    if ($State.DnsSuffix) { $begin.dnsSuffix = $State.DnsSuffix }
    # Written with the first item's line, in one write: one wake-up of the executable, not two.
    $State.BeginLine = ConvertTo-ProtocolLine -Message $begin
}

function Send-ItemRequest {
    # One item's request line ('backup' or 'restore', its fields already JSON after the id), queued
    # for its result in input order. The pipeline connects with its first item. Returns the id.
    # Called once per item, positionally: typed, named parameters cost more to bind than the rest.
    param($State, $Type, $Fields, $Target)
    if ($null -eq $State.Session) { Connect-BackupPipeline -State $State }
    $session = $State.Session
    $requestId = $session.NextId
    $session.NextId = $requestId + 1
    $line = '{"type":"' + $Type + '","pipeline":' + $State.Id + ',"id":' + $requestId + $Fields + '}'
    $entry = @{ Done = $false; Path = $null; Item = $null; Failure = $null; ErrorRecord = $null; Target = $Target; Id = $requestId; Logged = 0 }
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
    return $requestId
}

function Disconnect-BackupPipeline {
    # The pipeline is answered (done or cancelled): forget it; a session no call will use again ends.
    param($State)
    $session = $State.Session
    if ($null -eq $session) { return }
    $State.Session = $null
    [void]$session.Pipelines.Remove([string]$State.Id)
    foreach ($entry in $State.Queue) { if ($null -ne $entry.Id) { [void]$session.Pending.Remove([string]$entry.Id) } }
    for ($i = $script:LivePipelines.Count - 1; $i -ge 0; $i--) {
        if ([object]::ReferenceEquals($script:LivePipelines[$i], $State)) { $script:LivePipelines.RemoveAt($i) }
    }
    $session.LastUsed.Restart()
    if ($session.Pipelines.Count -eq 0 -and (-not [object]::ReferenceEquals($script:Session, $session) -or $session.IdleSeconds -eq 0)) {
        Close-BackupSession -Session $session
    }
}

function Complete-BackupPipeline {
    # Normal end of the pipeline. 'end' goes out only once every result is in, so that a stop while
    # results still come can cancel what is left rather than wait for it; nothing is left to wait
    # for after it (its 'done' is read past by whichever call reads next).
    param([hashtable]$State)
    $State.InputEnded = $true
    $session = $State.Session
    if ($null -ne $session) {
        Send-SessionLine -Session $session -Pipeline $State
        while ($State.Queue.Count -gt 0 -and -not $session.StdoutEof -and $null -eq $session.Fatal) {
            Read-SessionStream -Session $session -Pipeline $State -TimeoutMs 100
            Write-ReadyEntry -State $State
            if ($State.Accepted -ge 2) { Write-BackupProgress -State $State }
            # Results of a long pipeline trickle in one by one; waking for each would cost the
            # module more than the results themselves, so it reads them a batch at a time. The
            # last one (a single call) is read the moment it comes.
            if ($State.Queue.Count -gt 1) { [System.Threading.Thread]::Sleep($script:ResultBatchMs) }
        }
        Assert-SessionHealthy -State $State
        Send-SessionLine -Session $session -Pipeline $State -Line ('{"type":"end","pipeline":' + $State.Id + '}')
        Disconnect-BackupPipeline -State $State
    }
    Write-ReadyEntry -State $State
}

function Stop-BackupPipeline {
    # The pipeline was stopped (Ctrl+C, Select-Object -First, a downstream throw) or failed: its
    # queued and in-flight backups are cancelled in the executable, which removes their temporary
    # files, and the session stays for the next call. One that does not confirm in time is ended.
    param([hashtable]$State)
    $session = $State.Session
    if ($null -eq $session) { return }
    # A stopped pipeline may no longer write to its streams.
    $State.Quiet = $true
    $confirmed = $false
    if ($null -ne $session.Process -and $null -eq $session.Fatal -and -not $session.StdoutEof) {
        try {
            $session.Stdin.Write('{"type":"cancel","pipeline":' + $State.Id + "}`n")
            $session.Stdin.Flush()
            $watch = [System.Diagnostics.Stopwatch]::StartNew()
            while (-not $State.Cancelled -and -not $session.StdoutEof -and $null -eq $session.Fatal -and $watch.ElapsedMilliseconds -lt $script:AbortGraceMs) {
                Read-SessionStream -Session $session -Pipeline $State -TimeoutMs 50
            }
            $confirmed = $State.Cancelled
        }
        catch { $confirmed = $false }
    }
    if (-not $confirmed) { Close-BackupSession -Session $session -GraceMs $script:AbortGraceMs }
    Disconnect-BackupPipeline -State $State
}

function Stop-StalePipeline {
    # A pipeline is stale when it can no longer reach its end block: stopped, or ended by a
    # terminating error elsewhere in it, on a host without a clean block (5.1, 7.2). PowerShell
    # disposes such a pipeline's commands, which clears their CommandRuntime. Live pipelines (a
    # nested invocation's caller) are left alone.
    foreach ($state in @($script:LivePipelines.ToArray())) {
        $stale = $true
        try { $stale = $null -eq $state.Cmdlet.CommandRuntime -or $state.Cmdlet.Stopping }
        catch { $stale = $true }
        if ($stale) { Stop-BackupPipeline -State $state }
    }
}

function Stop-PipelineItem {
    # A process block's item did not finish (the pipeline was stopped, or a terminating error):
    # its progress ends and the pipeline is cancelled, as the end block will not run.
    param([hashtable]$State)
    Write-BackupProgress -State $State -Done
    Stop-BackupPipeline -State $State
}

function Stop-UnfinishedPipeline {
    # The clean block's work (PowerShell 7.3+), which runs however the pipeline ended: also when it
    # was stopped or failed while an upstream command ran, when neither our process block's finally
    # nor our end block runs. After a normal end the pipeline is already answered and this does nothing.
    param($State)
    if ($null -eq $State -or $State -isnot [hashtable] -or $null -eq $State.Session) { return }
    try { Write-BackupProgress -State $State -Done } catch { Write-Debug 'progress not completed' }
    Stop-BackupPipeline -State $State
}
