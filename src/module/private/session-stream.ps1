function Send-SessionLine {
    # Writes a line (without -Line: only what is buffered) to the executable; a pipe that is gone is
    # the session's death, one terminating error for the pipeline.
    param($Session, $Pipeline, [string]$Line)
    if ($Line -and $Pipeline.DebugOn -and -not $Pipeline.Quiet) { foreach ($part in $Line.Split([char]10)) { Write-Debug ('=> {0}' -f (Hide-Token -Line $part)) } }
    $failure = $null
    try {
        if ($Line) { $Session.Stdin.Write($Line + "`n") }
        $Session.Stdin.Flush()
    }
    catch { $failure = $_.Exception }
    if ($null -ne $failure) {
        $Session.Fatal = New-ChildDiedRecord -Session $Session -InnerException $failure
        $Pipeline.Cmdlet.ThrowTerminatingError($Session.Fatal)
    }
}

function Get-TaskLine {
    # A faulted read (pipe closed under us) counts as end of stream.
    param($Task)
    try { return $Task.GetAwaiter().GetResult() } catch { return $null }
}

function Read-SessionStream {
    # Handles every line already read on stdout and stderr, optionally waiting up to TimeoutMs for
    # the first one. Runs on the pipeline thread of the call that reads (any of the session's
    # pipelines), so that Write-Verbose and friends are allowed.
    param($Session, $Pipeline, [int]$TimeoutMs = 0)
    if ($TimeoutMs -gt 0) {
        $tasks = @()
        if ($null -ne $Session.StdoutTask) { $tasks += $Session.StdoutTask }
        if ($null -ne $Session.StderrTask) { $tasks += $Session.StderrTask }
        if ($tasks.Count -gt 0) { [void][System.Threading.Tasks.Task]::WaitAny([System.Threading.Tasks.Task[]]$tasks, $TimeoutMs) }
    }
    $process = $Session.Process
    if ($null -eq $process) { return }
    do {
        $progressed = $false
        if ($null -ne $Session.StderrTask -and $Session.StderrTask.IsCompleted) {
            $progressed = $true
            try { $line = $Session.StderrTask.GetAwaiter().GetResult() } catch { $line = $null }
            if ($null -eq $line) { $Session.StderrTask = $null; $Session.StderrEof = $true }
            else {
                $Session.StderrTask = $process.StandardError.ReadLineAsync()
                Receive-StderrLine -Session $Session -Pipeline $Pipeline -Line $line
            }
        }
        if ($null -ne $Session.StdoutTask -and $Session.StdoutTask.IsCompleted) {
            $progressed = $true
            try { $line = $Session.StdoutTask.GetAwaiter().GetResult() } catch { $line = $null }
            if ($null -eq $line) { $Session.StdoutTask = $null; $Session.StdoutEof = $true }
            else {
                $Session.StdoutTask = $process.StandardOutput.ReadLineAsync()
                # Most lines of a whole-vault run are successes: read here, without ConvertFrom-Json
                # or another call, as they cost most of the module's time per secret otherwise.
                $success = $script:SuccessResultLine.Match($line)
                $entry = $null
                if ($success.Success -and $Session.Pending.TryGetValue($success.Groups[1].Value, [ref]$entry)) {
                    if ($Pipeline.DebugOn -and -not $Pipeline.Quiet) { Write-Debug ('<= {0}' -f $line) }
                    [void]$Session.Pending.Remove($success.Groups[1].Value)
                    $entry.Path = $success.Groups[2].Value
                    if ($success.Groups[3].Success) { $entry.Logged = [int]$success.Groups[3].Value }
                    $entry.Done = $true
                }
                elseif ($script:DoneLine.IsMatch($line)) { if ($Pipeline.DebugOn -and -not $Pipeline.Quiet) { Write-Debug ('<= {0}' -f $line) } }
                else { Receive-StdoutLine -Session $Session -Pipeline $Pipeline -Line $line }
            }
        }
    } while ($progressed)
}

function Receive-StderrLine {
    param($Session, $Pipeline, [string]$Line)
    $record = $null
    if ($Line.StartsWith('{')) {
        try { $record = ConvertFrom-Json -InputObject $Line } catch { $record = $null }
    }
    if ($null -eq $record -or $null -eq $record.PSObject.Properties['level'] -or $null -eq $record.PSObject.Properties['message']) {
        # Not a diagnostic: the runtime itself failing. Kept to explain a crash.
        $Session.StderrTail.Add($Line)
        if ($Session.StderrTail.Count -gt $script:StderrTailLines) { $Session.StderrTail.RemoveAt(0) }
        if (-not $Pipeline.Quiet) { Write-Debug ('stderr: {0}' -f $Line) }
        return
    }
    # A pipeline's own lines come at its level already, and are counted: a result waits for the
    # diagnostics written before it. The session's own lines come at every level.
    $tagged = $null -ne $record.PSObject.Properties['pipeline']
    if ($tagged) {
        $owner = $Session.Pipelines[[string]$record.pipeline]
        if ($null -ne $owner) { $owner.LoggedSeen++ }
    }
    if ($Pipeline.Quiet) { return }
    $level = [string]$record.level
    switch ($level) {
        'warning' { Write-Warning ([string]$record.message) }
        'debug' { if ($tagged -or $Pipeline.DebugOn) { Write-Debug ([string]$record.message) } }
        default { if ($tagged -or $Pipeline.VerboseOn) { Write-Verbose ([string]$record.message) } }
    }
}

function Receive-StdoutLine {
    param($Session, $Pipeline, [string]$Line)
    if ($Pipeline.DebugOn -and -not $Pipeline.Quiet) { Write-Debug ('<= {0}' -f (Hide-Token -Line $Line)) }
    $message = $null
    try { $message = ConvertFrom-Json -InputObject $Line } catch { $message = $null }
    if ($null -eq $message -or $null -eq $message.PSObject.Properties['type']) {
        $Session.Fatal = New-ErrorRecord -Message ("The az-keyvault-backup process wrote a line that is not protocol JSON: {0}" -f $Line) -ErrorId 'ProtocolError' -Category InvalidData -TargetObject $Session.ExecutablePath
        return
    }
    switch ([string]$message.type) {
        'result' {
            $key = [string]$message.id
            $entry = $null
            if (-not $Session.Pending.TryGetValue($key, [ref]$entry)) {
                $Session.Fatal = New-ErrorRecord -Message ("The az-keyvault-backup process answered an unknown request id '{0}'." -f $key) -ErrorId 'ProtocolError' -Category InvalidData -TargetObject $Session.ExecutablePath
                return
            }
            [void]$Session.Pending.Remove($key)
            if ($message.ok) {
                $entry.Path = [string]$message.path
                if ($null -ne $message.PSObject.Properties['item']) { $entry.Item = $message.item }
            }
            else { $entry.Failure = $message.error }
            if ($null -ne $message.PSObject.Properties['logged']) { $entry.Logged = [int]$message.logged }
            $entry.Done = $true
        }
        # The answer to 'end', which the module does not wait for: its pipeline is already gone.
        'done' { }
        'cancelled' {
            $owner = $Session.Pipelines[[string]$message.pipeline]
            if ($null -ne $owner) { $owner.Cancelled = $true }
        }
        'tokenRequest' {
            $tenant = $null
            $context = ''
            if ($null -ne $message.PSObject.Properties['tenantId']) { $tenant = [string]$message.tenantId }
            if ($null -ne $message.PSObject.Properties['context']) { $context = [string]$message.context }
            $resource = $null
            if ($null -ne $message.PSObject.Properties['resource']) { $resource = [string]$message.resource }
            Resolve-TokenRequest -Session $Session -Pipeline $Pipeline -Context $context -TenantId $tenant -Resource $resource
        }
        'hello' { $Session.Hello = $message }
        'bye' { $Session.Bye = $message }
        'error' {
            if ($null -eq $Session.Hello) { $Session.HandshakeError = $message }
            else { $Session.Fatal = New-ErrorRecord -Message ("The az-keyvault-backup process reported: {0}" -f $message.message) -ErrorId ([string]$message.errorId) -Category InvalidData -TargetObject $Session.ExecutablePath }
        }
        'protocolError' {
            $tail = ($Session.StderrTail -join [System.Environment]::NewLine)
            $Session.Fatal = New-ErrorRecord -Message ("The az-keyvault-backup process rejected a request: {0} {1}" -f $message.message, $tail).Trim() -ErrorId 'ProtocolError' -Category InvalidData -TargetObject $Session.ExecutablePath
        }
        default { if (-not $Pipeline.Quiet) { Write-Debug ('Ignoring unknown message type {0}' -f $message.type) } }
    }
}

function Get-ChildFailureDetail {
    # Collects exit code and the non-JSON stderr tail so a crash explains itself.
    param($Session)
    $process = $Session.Process
    $exitText = 'still running'
    if ($null -ne $process) {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        while (-not $process.HasExited -and $watch.ElapsedMilliseconds -lt $script:AbortGraceMs) { [void]$process.WaitForExit(100) }
        while (-not $Session.StderrEof -and $null -ne $Session.StderrTask -and $watch.ElapsedMilliseconds -lt (2 * $script:AbortGraceMs)) {
            if ($Session.StderrTask.Wait(100)) {
                $line = Get-TaskLine -Task $Session.StderrTask
                if ($null -eq $line) { $Session.StderrTask = $null; $Session.StderrEof = $true }
                elseif (-not $line.StartsWith('{')) {
                    $Session.StderrTask = $process.StandardError.ReadLineAsync()
                    $Session.StderrTail.Add($line)
                }
                else { $Session.StderrTask = $process.StandardError.ReadLineAsync() }
            }
        }
        if ($process.HasExited) { $exitText = 'exit code {0}' -f $process.ExitCode }
    }
    if ($Session.StderrTail.Count -gt 0) {
        return '{0}; stderr: "{1}"' -f $exitText, ($Session.StderrTail -join [System.Environment]::NewLine)
    }
    return $exitText
}

function New-ChildDiedRecord {
    # Dying before the handshake means the file cannot run here (wrong platform, broken install);
    # dying later is a crash in the middle of the work.
    param($Session, [System.Exception]$InnerException)
    $detail = Get-ChildFailureDetail -Session $Session
    if ($null -eq $Session.Hello) {
        return New-ErrorRecord -Message ("The az-keyvault-backup executable at '{0}' exited before the handshake ({1}).{2}" -f $Session.ExecutablePath, $detail, (Get-ExecutableAdvice -RuntimeIdentifier $Session.RuntimeIdentifier -Path $Session.ExecutablePath)) -ErrorId 'ExecutableFailed' -Category ResourceUnavailable -TargetObject $Session.ExecutablePath -InnerException $InnerException
    }
    return New-ErrorRecord -Message ("The az-keyvault-backup process ended unexpectedly ({0})." -f $detail) -ErrorId 'ExecutableExited' -Category InvalidResult -TargetObject $Session.ExecutablePath -InnerException $InnerException
}

function Assert-SessionHealthy {
    param([hashtable]$State)
    $session = $State.Session
    if ($null -ne $session.Fatal) { $State.Cmdlet.ThrowTerminatingError($session.Fatal) }
    if ($session.StdoutEof) {
        $session.Fatal = New-ChildDiedRecord -Session $session
        $State.Cmdlet.ThrowTerminatingError($session.Fatal)
    }
}
