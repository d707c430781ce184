# An absolute path on Linux or macOS with nothing PowerShell would resolve in it (wildcards, ~).
$script:PlainUnixPath = [regex]::new('^/[^\*\?\[\]`~\\]*$', [System.Text.RegularExpressions.RegexOptions]::Compiled)

function Get-PathComparer {
    # Whether two paths name one file: Windows file systems ignore case, those of Linux and macOS
    # (as this module treats them) do not, so a.blob and A.blob are two files there.
    if ([System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT) { return [System.StringComparer]::OrdinalIgnoreCase }
    return [System.StringComparer]::Ordinal
}

function Resolve-OutputFile {
    # -OutputFile resolved as Az does (relative to the PowerShell location, ~, PSDrives), but only
    # to a file-system path: Variable:, Env:, HKCU: and the like name no file the executable can write.
    # Returns @{ Path; IsDirectory } or an ErrorRecord.
    param($Cmdlet, [string]$OutputFile, $TargetObject)
    $provider = $null
    $drive = $null
    $location = $Cmdlet.SessionState.Path.CurrentLocation
    # An absolute Linux or macOS path with nothing in it to resolve (no ~, wildcard, . or .. part),
    # from a file-system location, is itself: the provider's resolution costs more than the rest of
    # a single call.
    if ($script:PlainUnixPath.IsMatch($OutputFile) -and $OutputFile.IndexOf('/.') -lt 0 -and $OutputFile.IndexOf('//') -lt 0 -and $location.Provider.ImplementingType -eq [Microsoft.PowerShell.Commands.FileSystemProvider]) {
        $resolved = $OutputFile
        $provider = $location.Provider
    }
    else {
        try { $resolved = $Cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath($OutputFile, [ref]$provider, [ref]$drive) }
        catch {
            if ($_.Exception -is [System.Management.Automation.PipelineStoppedException]) { throw }
            return New-ErrorRecord -Message ("The output file '{0}' cannot be resolved to a file-system path: {1}" -f $OutputFile, $_.Exception.Message) -ErrorId 'InvalidOutputFile' -Category InvalidArgument -TargetObject $TargetObject -InnerException $_.Exception
        }
    }
    if ($null -eq $provider -or $provider.ImplementingType -ne [Microsoft.PowerShell.Commands.FileSystemProvider]) {
        $providerName = 'an unknown provider'
        if ($null -ne $provider) { $providerName = "the {0} provider" -f $provider.Name }
        return New-ErrorRecord -Message ("The output file '{0}' is not a file-system path: it belongs to {1}. Give a file or directory path." -f $OutputFile, $providerName) -ErrorId 'InvalidOutputFile' -Category InvalidArgument -TargetObject $TargetObject
    }
    # A trailing separator says the user means a directory (./backups/): never create a file of
    # that name, which is what Az would do. Without one, a missing path is a file, as in Az.
    $isDirectory = $OutputFile.EndsWith('/') -or $OutputFile.EndsWith('\')
    if ($isDirectory -and -not [System.IO.Directory]::Exists($resolved)) {
        return New-ErrorRecord -Message ("The output directory '{0}' does not exist: a trailing separator names a directory. Create it first, or leave out the separator to name a file." -f $resolved) -ErrorId 'OutputDirectoryNotFound' -Category ObjectNotFound -TargetObject $TargetObject
    }
    return @{ Path = $resolved; IsDirectory = $isDirectory }
}
