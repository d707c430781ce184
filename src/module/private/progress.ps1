function Write-BackupProgress {
    # At most a few updates a second: Write-Progress per item would cost more than the backups.
    # While items still arrive the total is unknown (done so far); once input has ended it is.
    param([hashtable]$State, [switch]$Done)
    if ($Done) {
        if ($State.ProgressShown) { Write-Progress -Id 1 -Activity $State.Activity -Completed }
        return
    }
    if ($State.Accepted -lt 2) { return }
    if ($null -eq $State.ProgressWatch) { $State.ProgressWatch = [System.Diagnostics.Stopwatch]::StartNew() }
    elseif ($State.ProgressWatch.ElapsedMilliseconds -lt 250) { return }
    $State.ProgressWatch.Restart()
    $State.ProgressShown = $true
    if ($State.InputEnded) {
        $percent = [int][math]::Floor(100 * $State.Completed / [math]::Max(1, $State.Accepted))
        Write-Progress -Id 1 -Activity $State.Activity -Status ('{0} of {1} {2} {3}' -f $State.Completed, $State.Accepted, $State.Plural, $State.Done) -PercentComplete $percent
    }
    else {
        Write-Progress -Id 1 -Activity $State.Activity -Status ('{0} {1} {2}, {3} in progress' -f $State.Completed, $State.Plural, $State.Done, ($State.Accepted - $State.Completed))
    }
}

function Write-BackupSummary {
    # One record on the information stream, hidden unless asked for (-InformationAction Continue,
    # -InformationVariable): what a runbook logs at the end of a whole-vault run.
    param([hashtable]$State)
    if ($State.Completed -eq 0) { return }
    # Write-Information costs more than a backup's own share of the call; skipped when the record
    # would go nowhere (not shown, not collected).
    if (-not $State.InformationWanted) { return }
    $text = '{0} {1} of {2} {3}(s) in {4} s.' -f $State.DoneSentence, $State.Succeeded, $State.Completed, $State.Noun, $State.Started.Elapsed.TotalSeconds.ToString('0.00', [System.Globalization.CultureInfo]::InvariantCulture)
    Write-Information -MessageData $text -Tags 'Az.KeyVault.Backup'
}
