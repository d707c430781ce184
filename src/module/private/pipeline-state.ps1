function New-PipelineState {
    # Operation: 'backup' or 'restore'; Kind: 'secret', 'key' or 'certificate' (one cmdlet, one of each).
    param($Cmdlet, [string]$Operation = 'backup', [string]$Kind = 'secret', [int]$ThrottleLimit, [string]$LogLevel, $DefaultProfile)
    $kindInfo = $script:ItemKinds[$Kind]
    if ($null -eq $kindInfo) { throw ('Unknown item kind {0}' -f $Kind) }
    $verb = 'Backup'
    $done = 'backed up'
    if ($Operation -eq 'restore') { $verb = 'Restore'; $done = 'restored' }
    elseif ($Operation -ne 'backup') { throw ('Unknown operation {0}' -f $Operation) }
    return @{
        Cmdlet        = $Cmdlet
        Operation     = $Operation
        Kind          = $Kind
        Noun          = $kindInfo.Noun
        Plural        = $kindInfo.Plural
        Getter        = $kindInfo.Getter
        TypeName      = $kindInfo.TypeName
        # ShouldProcess's action, as Az's resources word it ('Backup key', 'Restore secret').
        Action        = '{0} {1}' -f $verb, $kindInfo.Noun
        # Progress and the summary: '3 of 5 keys backed up', 'Restored 5 of 5 secret(s)'.
        Done          = $done
        DoneSentence  = $done.Substring(0, 1).ToUpperInvariant() + $done.Substring(1)
        # The activity of the progress bar: the command's own name.
        Activity      = '{0}-AzKeyVault{1}' -f $verb, ([cultureinfo]::InvariantCulture.TextInfo.ToTitleCase($kindInfo.Noun))
        ThrottleLimit = $ThrottleLimit
        LogLevel      = $LogLevel
        DefaultProfile = $DefaultProfile
        # Set once the first item needs the executable: the session it runs in and its number there.
        Session       = $null
        Id            = $null
        # '' when the executable signs in by itself; otherwise the name of the Az context it uses.
        Context       = ''
        SignIn        = $null
        BeginLine     = $null
        DnsSuffix     = $null
        # The executable's answer to this pipeline's 'cancel'.
        Cancelled     = $false
        # Diagnostic lines of this pipeline read so far, which results wait for.
        LoggedSeen    = 0
        # Set while the pipeline is being stopped: nothing may be written to its streams any more.
        Quiet         = $false
        Queue         = [System.Collections.Generic.Queue[object]]::new()
        # The one rule for "same file": each explicit output file of this pipeline, with the id of
        # the last request that writes it (a later one counts it as existing and runs after it).
        Targets       = [System.Collections.Generic.Dictionary[string, long]]::new((Get-PathComparer))
        # -OutputFile as resolved for the first item, and the location it was resolved from.
        ResolvedTarget = $null
        ResolvedFrom  = $null
        YesToAll      = $false
        NoToAll       = $false
        # Progress: items accepted so far, items whose outcome was written, and whether input ended
        # (only then is the total known).
        Accepted      = 0
        Completed     = 0
        Succeeded     = 0
        Started       = [System.Diagnostics.Stopwatch]::StartNew()
        InputEnded    = $false
        ProgressShown = $false
        ProgressWatch = $null
        # Polling the executable after every item would cost more than the backups when a whole
        # vault is piped in; polling every few tens of milliseconds keeps results streaming.
        SyncWatch     = [System.Diagnostics.Stopwatch]::StartNew()
        # Formatting debug and verbose text is skipped entirely when nobody will see it.
        DebugOn       = ($LogLevel -eq 'debug')
        VerboseOn     = ($LogLevel -ne 'warning')
    }
}
