# The session executable this runspace's calls share (a module's script scope is per runspace),
# and every session still serving a pipeline (a replaced one finishes the pipelines it has).
$script:Session = $null
$script:Sessions = [System.Collections.Generic.List[object]]::new()

function Get-SessionIdleSeconds {
    # A setting of the environment, so a change of it is a change of the session's fingerprint.
    param($Cmdlet)
    $text = [System.Environment]::GetEnvironmentVariable($script:IdleSecondsVariable)
    if (-not $text) { return $script:DefaultIdleSeconds }
    $value = 0
    if ([int]::TryParse($text, [System.Globalization.NumberStyles]::None, [System.Globalization.CultureInfo]::InvariantCulture, [ref]$value) -and $value -le 86400) { return $value }
    $Cmdlet.ThrowTerminatingError((New-ErrorRecord -Message ("{0} is '{1}': give a whole number of seconds from 0 (a new executable for every call) to 86400." -f $script:IdleSecondsVariable, $text) -ErrorId 'InvalidSessionSetting' -Category InvalidArgument -TargetObject $text))
}

function Get-EnvironmentFingerprint {
    # The executable reads its settings from the environment once, when it starts (vault URL, DNS
    # suffix, CA file, proxy, AZURE_*, IDENTITY_*, ...). Rather than a list that could miss one,
    # the whole environment is compared: any change between calls starts a fresh executable.
    # Keys and values in the table's own order, the same as long as nothing changed (a mere reorder
    # would only start a new executable), joined without a script loop: this runs on every call.
    # Kept as text, compared exactly: a copy of what the process's environment block already holds.
    $variables = [System.Environment]::GetEnvironmentVariables()
    foreach ($volatile in 'PWD', 'OLDPWD', '_') { $variables.Remove($volatile) }
    $text = [string]::Join("`0", [string[]]$variables.Keys) + "`1" + [string]::Join("`0", [string[]]$variables.Values)
    return $text
}

function Start-BackupSession {
    # Starts the executable this runspace's calls share, and shakes hands with it.
    param($Pipeline, [string]$Fingerprint, [int]$IdleSeconds)
    $cmdlet = $Pipeline.Cmdlet
    $executable = Resolve-Executable -Cmdlet $cmdlet
    $path = $executable.Path
    $session = @{
        Process       = $null
        Stdin         = $null
        StdoutTask    = $null
        StderrTask    = $null
        StdoutEof     = $false
        StderrEof     = $false
        Hello         = $null
        HandshakeError = $null
        Ready         = $false
        Bye           = $null
        Fatal         = $null
        ExecutablePath = $path
        RuntimeIdentifier = $executable.RuntimeIdentifier
        Fingerprint   = $Fingerprint
        IdleSeconds   = $IdleSeconds
        LastUsed      = [System.Diagnostics.Stopwatch]::StartNew()
        StderrTail    = [System.Collections.Generic.List[string]]::new()
        # Every request in flight, by id, across the session's pipelines.
        Pending       = [System.Collections.Generic.Dictionary[string, object]]::new()
        NextId        = [long]1
        NextPipeline  = 1
        # Open pipelines by number (as text: JSON numbers come back as Int64).
        Pipelines     = @{}
        # How to ask each named Az context for a token again. Never the token.
        Contexts      = @{}
        WarnedContexts = @{}
    }

    $psi = [System.Diagnostics.ProcessStartInfo]::new($path)
    $psi.UseShellExecute = $false
    $psi.CreateNoWindow = $true
    $psi.RedirectStandardInput = $true
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $utf8 = [System.Text.UTF8Encoding]::new($false)
    $psi.StandardOutputEncoding = $utf8
    $psi.StandardErrorEncoding = $utf8
    if ($null -ne $psi.PSObject.Properties['StandardInputEncoding']) { $psi.StandardInputEncoding = $utf8 }

    # Diagnostics outside any pipeline come at every level; each pipeline's reader filters them.
    $argv = Get-ServeArgumentList -Values ([ordered]@{ LogLevel = 'debug'; IdleSeconds = $IdleSeconds })
    if ($script:UseArgumentString) {
        $psi.Arguments = (@($argv | ForEach-Object { ConvertTo-WindowsArgument -Value $_ }) -join ' ')
    }
    else {
        foreach ($a in $argv) { $psi.ArgumentList.Add($a) }
    }

    Write-Verbose ("Starting '{0}' with arguments: {1}" -f $path, ($argv -join ' '))
    $process = $null
    $startError = $null
    for ($attempt = 0; $attempt -lt 2 -and $null -eq $process; $attempt++) {
        try {
            $process = [System.Diagnostics.Process]::Start($psi)
        }
        catch {
            $startError = $_.Exception
            # Zip-based installs (Install-Module, Save-Module) drop the Unix execute bit; restore it once.
            # UnixFileMode exists from .NET 7 (PowerShell 7.3); older hosts simply report the failure.
            $modeType = 'System.IO.UnixFileMode' -as [type]
            if ($attempt -ne 0 -or $null -eq $modeType -or $path.EndsWith('.exe')) { break }
            try {
                # An x bit wherever there is an r bit (0644 -> 0755, 0640 -> 0750): no wider than readable.
                $mode = [int][System.IO.File]::GetUnixFileMode($path)
                $readBits = [int]($modeType::UserRead) -bor [int]($modeType::GroupRead) -bor [int]($modeType::OtherRead)
                [System.IO.File]::SetUnixFileMode($path, ($mode -bor (($mode -band $readBits) -shr 2)))
            }
            catch { break }
        }
    }
    if ($null -eq $process) {
        $cmdlet.ThrowTerminatingError((New-ErrorRecord -Message ("The az-keyvault-backup executable at '{0}' could not be started: {1}.{2}" -f $path, $startError.Message.TrimEnd('.'), (Get-ExecutableAdvice -RuntimeIdentifier $session.RuntimeIdentifier -Path $path)) -ErrorId 'ExecutableFailed' -Category ResourceUnavailable -TargetObject $path -InnerException $startError))
    }

    $session.Process = $process
    $writer = [System.IO.StreamWriter]::new($process.StandardInput.BaseStream, $utf8)
    $writer.NewLine = "`n"
    $writer.AutoFlush = $false
    $session.Stdin = $writer
    $session.StdoutTask = $process.StandardOutput.ReadLineAsync()
    $session.StderrTask = $process.StandardError.ReadLineAsync()
    [void]$script:SessionRegistry.TryAdd($process.Id, @{ Runspace = [System.Management.Automation.Runspaces.Runspace]::DefaultRunspace; Stdin = $writer })

    [void]$script:Sessions.Add($session)
    # 'tokenRequest': this module answers the executable's requests for an Az context's token. The
    # answer is awaited later (Wait-SessionHandshake), so the executable boots while PowerShell works.
    $hello = ConvertTo-ProtocolLine -Message ([ordered]@{ type = 'hello'; protocol = $script:ProtocolVersion; client = ('Az.KeyVault.Backup {0}' -f (Get-ModuleVersionText)); features = @('tokenRequest') })
    if ($Pipeline.DebugOn) { Write-Debug ('=> {0}' -f $hello) }
    $failure = $null
    try { $writer.Write($hello + "`n"); $writer.Flush() }
    catch { $failure = New-ChildDiedRecord -Session $session -InnerException $_.Exception }
    if ($null -ne $failure) {
        Close-BackupSession -Session $session -Kill
        $cmdlet.ThrowTerminatingError($failure)
    }
    return $session
}

function Wait-SessionHandshake {
    # The executable's answer to hello: the protocol it speaks, or why it cannot run here. A session
    # that fails it is ended before the error is thrown (ThrowTerminatingError skips any catch).
    param($Session, $Pipeline)
    if ($Session.Ready) { return }
    $path = $Session.ExecutablePath
    $failure = $null
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    while ($null -eq $Session.Hello -and $null -eq $Session.HandshakeError -and -not $Session.StdoutEof -and $null -eq $Session.Fatal) {
        if ($watch.ElapsedMilliseconds -gt $script:HandshakeTimeoutMs) {
            $failure = New-ErrorRecord -Message ("The az-keyvault-backup executable at '{0}' did not answer the handshake within {1} s." -f $path, ($script:HandshakeTimeoutMs / 1000)) -ErrorId 'ExecutableFailed' -Category ResourceUnavailable -TargetObject $path
            break
        }
        Read-SessionStream -Session $Session -Pipeline $Pipeline -TimeoutMs 100
    }
    $answer = $Session.Hello
    if ($null -eq $answer) { $answer = $Session.HandshakeError }
    if ($null -ne $failure) { }
    elseif ($null -ne $Session.Fatal) { $failure = $Session.Fatal }
    elseif ($null -eq $answer) { $failure = New-ChildDiedRecord -Session $Session }
    elseif ($null -ne $Session.HandshakeError -or [string]$answer.protocol -ne [string]$script:ProtocolVersion) {
        $failure = New-ErrorRecord -Message ("Protocol version mismatch: module Az.KeyVault.Backup {0} speaks protocol {1}, executable '{2}' (version {3}) speaks protocol {4}. Reinstall the module." -f (Get-ModuleVersionText), $script:ProtocolVersion, $path, $answer.version, $answer.protocol) -ErrorId 'ProtocolVersionMismatch' -Category InvalidData -TargetObject $path
    }
    if ($null -ne $failure) {
        Close-BackupSession -Session $Session -Kill
        $Pipeline.Cmdlet.ThrowTerminatingError($failure)
    }
    $Session.Ready = $true
    Write-Verbose ("az-keyvault-backup {0} ready (protocol {1}, process {2}); later calls in this session reuse it." -f $answer.version, $answer.protocol, $Session.Process.Id)
}

function Get-BackupSession {
    # The session executable for this call: the runspace's own if it can still serve, or a new one.
    # -NoWait: started, its handshake awaited by whoever uses it first.
    param($Pipeline, [switch]$NoWait)
    $cmdlet = $Pipeline.Cmdlet
    $fingerprint = Get-EnvironmentFingerprint
    $idleSeconds = Get-SessionIdleSeconds -Cmdlet $cmdlet
    $session = $script:Session
    # One started by this call's begin block and not yet greeted is this call's own: whatever became
    # of it, its handshake says (a failure to run here is reported, not retried).
    if ($null -ne $session -and $session.Ready) {
        $reason = $null
        if ($null -ne $session.Fatal) { $reason = 'it failed' }
        elseif ($session.StdoutEof -or $session.Process.HasExited) {
            Read-SessionStream -Session $session -Pipeline $Pipeline
            if ($null -ne $session.Bye -and [string]$session.Bye.reason -eq 'idle') { $reason = 'it ended after {0} s without a call' -f $session.IdleSeconds }
            else { $reason = 'it ended unexpectedly ({0})' -f (Get-ChildFailureDetail -Session $session) }
        }
        elseif (-not [string]::Equals($session.Fingerprint, $fingerprint, [System.StringComparison]::Ordinal)) { $reason = 'the environment changed since it started' }
        elseif ($session.Pipelines.Count -eq 0 -and $session.IdleSeconds -gt 0 -and $session.LastUsed.Elapsed.TotalSeconds -ge ($session.IdleSeconds - [math]::Min(5, $session.IdleSeconds / 4))) {
            # Started anew rather than racing the executable's own idle end.
            $reason = 'it is about to end after {0} s without a call' -f $session.IdleSeconds
        }
        if ($null -ne $reason) {
            Write-Verbose ('Starting a new az-keyvault-backup session executable: the previous one (process {0}) is not used again because {1}.' -f $session.Process.Id, $reason)
            $script:Session = $null
            if ($session.Pipelines.Count -eq 0) { Close-BackupSession -Session $session }
            $session = $null
        }
    }
    if ($null -eq $session) {
        $session = Start-BackupSession -Pipeline $Pipeline -Fingerprint $fingerprint -IdleSeconds $idleSeconds
        $script:Session = $session
    }
    if (-not $NoWait) { Wait-SessionHandshake -Session $session -Pipeline $Pipeline }
    return $session
}

function Close-BackupSession {
    # Closing stdin with no pipeline open is the executable's clean end; with one open it cancels
    # that pipeline's work, removes its temporary files and exits. Kill is for a session that
    # cannot be trusted to do so (a cancel it did not answer in time).
    param($Session, [switch]$Kill, [int]$GraceMs = 0)
    $process = $Session.Process
    if ($null -eq $process) { return }
    $Session.Process = $null
    if ([object]::ReferenceEquals($script:Session, $Session)) { $script:Session = $null }
    [void]$script:Sessions.Remove($Session)
    $removed = $null
    try { [void]$script:SessionRegistry.TryRemove($process.Id, [ref]$removed) } catch { Write-Debug 'session registry' }
    try { if ($null -ne $Session.Stdin) { $Session.Stdin.Dispose() } } catch { Write-Debug 'stdin already closed' }
    try {
        if ($GraceMs -gt 0) { [void]$process.WaitForExit($GraceMs) }
        if (($Kill -or $GraceMs -gt 0) -and -not $process.HasExited) { $process.Kill(); [void]$process.WaitForExit(1000) }
    }
    catch { Write-Debug ('Ending the executable: {0}' -f $_.Exception.Message) }
    try { $process.Dispose() } catch { Write-Debug 'dispose failed' }
}
