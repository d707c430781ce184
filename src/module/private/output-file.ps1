# An absolute path on Linux or macOS with nothing PowerShell would resolve in it (wildcards, ~).
$script:PlainUnixPath = [regex]::new('^/[^\*\?\[\]`~\\]*$', [System.Text.RegularExpressions.RegexOptions]::Compiled)

function Get-PathComparer {
    # Whether two paths name one file: Windows file systems ignore case, those of Linux and macOS
    # (as this module treats them) do not, so a.blob and A.blob are two files there.
    if ([System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT) { return [System.StringComparer]::OrdinalIgnoreCase }
    return [System.StringComparer]::Ordinal
}

function Resolve-FileSystemPath {
    # A path the user gave (-OutputFile, -InputFile) resolved as Az does (relative to the PowerShell
    # location, ~, PSDrives; the file need not exist), but only to a file-system path: Variable:,
    # Env:, HKCU: and the like name no file the executable can read or write. Returns the path, or
    # an ErrorRecord with ErrorId (category InvalidArgument) that says which parameter (Role).
    param($Cmdlet, [string]$Path, [string]$Role, [string]$ErrorId, $TargetObject)
    $provider = $null
    $drive = $null
    $location = $Cmdlet.SessionState.Path.CurrentLocation
    # An absolute Linux or macOS path with nothing in it to resolve (no ~, wildcard, . or .. part),
    # from a file-system location, is itself: the provider's resolution costs more than the rest of
    # a single call.
    if ($script:PlainUnixPath.IsMatch($Path) -and $Path.IndexOf('/.') -lt 0 -and $Path.IndexOf('//') -lt 0 -and $location.Provider.ImplementingType -eq [Microsoft.PowerShell.Commands.FileSystemProvider]) {
        return $Path
    }
    try { $resolved = $Cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path, [ref]$provider, [ref]$drive) }
    catch {
        if ($_.Exception -is [System.Management.Automation.PipelineStoppedException]) { throw }
        return New-ErrorRecord -Message ("The {0} '{1}' cannot be resolved to a file-system path: {2}" -f $Role, $Path, $_.Exception.Message) -ErrorId $ErrorId -Category InvalidArgument -TargetObject $TargetObject -InnerException $_.Exception
    }
    if ($null -eq $provider -or $provider.ImplementingType -ne [Microsoft.PowerShell.Commands.FileSystemProvider]) {
        $providerName = 'an unknown provider'
        if ($null -ne $provider) { $providerName = "the {0} provider" -f $provider.Name }
        return New-ErrorRecord -Message ("The {0} '{1}' is not a file-system path: it belongs to {2}. Give a file-system path." -f $Role, $Path, $providerName) -ErrorId $ErrorId -Category InvalidArgument -TargetObject $TargetObject
    }
    return $resolved
}

function Resolve-OutputFile {
    # -OutputFile as a file-system path, and whether it names a directory.
    # Returns @{ Path; IsDirectory } or an ErrorRecord.
    param($Cmdlet, [string]$OutputFile, $TargetObject)
    $resolved = Resolve-FileSystemPath -Cmdlet $Cmdlet -Path $OutputFile -Role 'output file' -ErrorId 'InvalidOutputFile' -TargetObject $TargetObject
    if ($resolved -is [System.Management.Automation.ErrorRecord]) { return $resolved }
    # A trailing separator says the user means a directory (./backups/): never create a file of
    # that name, which is what Az would do. Without one, a missing path is a file, as in Az.
    $isDirectory = $OutputFile.EndsWith('/') -or $OutputFile.EndsWith('\')
    if ($isDirectory -and -not [System.IO.Directory]::Exists($resolved)) {
        return New-ErrorRecord -Message ("The output directory '{0}' does not exist: a trailing separator names a directory. Create it first, or leave out the separator to name a file." -f $resolved) -ErrorId 'OutputDirectoryNotFound' -Category ObjectNotFound -TargetObject $TargetObject
    }
    return @{ Path = $resolved; IsDirectory = $isDirectory }
}

function Resolve-InputFile {
    # -InputFile as a file-system path. Whether the file exists is the executable's to say
    # (InputFileNotFound, before any vault call): one side owns that rule.
    # Returns the path or an ErrorRecord.
    param($Cmdlet, [string]$InputFile, $TargetObject)
    return Resolve-FileSystemPath -Cmdlet $Cmdlet -Path $InputFile -Role 'input file' -ErrorId 'InvalidInputFile' -TargetObject $TargetObject
}
