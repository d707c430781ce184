function Get-SessionRegistry {
    # Process-wide, shared by the module's instances in every runspace: a runspace that is closed
    # (ForEach-Object -Parallel's, a thread job's) cannot end its own executable, so the next call
    # in any runspace ends it.
    $registry = [System.AppDomain]::CurrentDomain.GetData($script:SessionRegistryName)
    if ($null -eq $registry) {
        [System.Threading.Monitor]::Enter([System.AppDomain]::CurrentDomain)
        try {
            $registry = [System.AppDomain]::CurrentDomain.GetData($script:SessionRegistryName)
            if ($null -eq $registry) {
                $registry = [System.Collections.Concurrent.ConcurrentDictionary[int, object]]::new()
                [System.AppDomain]::CurrentDomain.SetData($script:SessionRegistryName, $registry)
            }
        }
        finally { [System.Threading.Monitor]::Exit([System.AppDomain]::CurrentDomain) }
    }
    return $registry
}

function Close-OrphanedSession {
    $registry = $script:SessionRegistry
    foreach ($entry in @($registry.ToArray())) {
        $runspace = $entry.Value.Runspace
        $state = $runspace.RunspaceStateInfo.State
        if ($state -ne [System.Management.Automation.Runspaces.RunspaceState]::Closed -and $state -ne [System.Management.Automation.Runspaces.RunspaceState]::Broken) { continue }
        $removed = $null
        if ($registry.TryRemove($entry.Key, [ref]$removed)) {
            # Closing stdin with no pipeline open is the executable's clean end.
            try { $removed.Stdin.Dispose() } catch { Write-Debug ('closing an orphaned session: {0}' -f $_.Exception.Message) }
        }
    }
}
