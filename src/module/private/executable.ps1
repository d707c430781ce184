# The only way module settings become executable arguments: argv is built from this table as an
# array, never from a command string, so no value can be re-parsed as another switch.
$script:ServeArgumentMap = [ordered]@{
    LogLevel    = '--log-level'
    IdleSeconds = '--idle-timeout-seconds'
}

function Get-ModuleVersionText {
    # Read when used: while the psm1 itself loads, the manifest's version is not applied yet.
    $module = $ExecutionContext.SessionState.Module
    if ($null -ne $module -and $null -ne $module.Version) { return $module.Version.ToString() }
    return '0.0.0'
}

# The executables shipped, by platform and OS architecture (the names of .NET's OSPlatform and
# Architecture). Windows 11 on Arm runs the x64 build under emulation (Windows 10 on Arm emulates
# x86 only, and gets the error that says so); no win-arm64 build is shipped.
$script:RuntimeIdentifiers = @{
    'Windows/X64' = 'win-x64'
    'Windows/Arm64' = 'win-x64'
    'Linux/X64' = 'linux-x64'
    'Linux/Arm64' = 'linux-arm64'
    'OSX/X64' = 'darwin-x64'
    'OSX/Arm64' = 'darwin-arm64'
}

function Get-HostPlatform {
    # RuntimeInformation.OSArchitecture is missing on .NET Framework before 4.7.1, which Windows
    # PowerShell 5.1 may run on; hence the environment's answer as a fallback.
    $osArchitecture = $null
    $infoType = 'System.Runtime.InteropServices.RuntimeInformation' -as [type]
    if ($null -ne $infoType -and $null -ne $infoType.GetProperty('OSArchitecture')) {
        $osArchitecture = [string]$infoType::OSArchitecture
    }
    $corePlatform = $null
    if ($PSVersionTable.PSEdition -eq 'Core') {
        foreach ($name in 'Windows', 'Linux', 'OSX', 'FreeBSD') {
            if ($infoType::IsOSPlatform([System.Runtime.InteropServices.OSPlatform]::Create($name.ToUpperInvariant()))) { $corePlatform = $name; break }
        }
    }
    return ConvertTo-HostPlatform -Edition $PSVersionTable.PSEdition -CorePlatform $corePlatform -OSArchitecture $osArchitecture -ProcessorArchitecture $env:PROCESSOR_ARCHITECTURE -ProcessorArchiteW6432 $env:PROCESSOR_ARCHITEW6432
}

function ConvertTo-HostPlatform {
    # Pure, so Windows PowerShell 5.1's answers can be tested where it cannot run.
    param([string]$Edition, [string]$CorePlatform, [string]$OSArchitecture, [string]$ProcessorArchitecture, [string]$ProcessorArchiteW6432)
    # Desktop (5.1) only runs on Windows; only Core can be elsewhere.
    $platform = 'Windows'
    if ($Edition -eq 'Core') {
        $platform = $CorePlatform
        if (-not $platform) { $platform = 'Unknown' }
    }
    # The OS's architecture, not the process's: 32-bit PowerShell on 64-bit Windows (whose own
    # PROCESSOR_ARCHITECTURE says x86, PROCESSOR_ARCHITEW6432 the truth) starts the x64 executable fine.
    $arch = $OSArchitecture
    if (-not $arch) { $arch = $ProcessorArchiteW6432 }
    if (-not $arch) { $arch = $ProcessorArchitecture }
    return [pscustomobject]@{ Platform = $platform; Architecture = [string]$arch }
}

function Get-RuntimeIdentifier {
    # Pure, so every platform and architecture pair can be tested on any one machine. $null means
    # no executable is shipped for that pair. PROCESSOR_ARCHITECTURE says AMD64 where .NET says X64.
    param([string]$Platform, [string]$Architecture)
    $arch = [string]$Architecture
    if ($arch -eq 'AMD64') { $arch = 'X64' }
    $key = '{0}/{1}' -f $Platform, $arch
    if ($script:RuntimeIdentifiers.ContainsKey($key)) { return $script:RuntimeIdentifiers[$key] }
    return $null
}

function Get-ExecutablePath {
    param([string]$RuntimeIdentifier, [string]$ModuleBase = $ExecutionContext.SessionState.Module.ModuleBase)
    $name = $script:ExecutableBaseName
    if ($RuntimeIdentifier -like 'win-*') { $name = $name + '.exe' }
    return [System.IO.Path]::Combine($ModuleBase, 'bin', $RuntimeIdentifier, $name)
}

function Get-PackagedRuntimeIdentifiers {
    param([string]$ModuleBase = $ExecutionContext.SessionState.Module.ModuleBase)
    $bin = [System.IO.Path]::Combine($ModuleBase, 'bin')
    if (-not [System.IO.Directory]::Exists($bin)) { return @() }
    return @([System.IO.Directory]::GetDirectories($bin) | ForEach-Object { [System.IO.Path]::GetFileName($_) } | Sort-Object)
}

function Get-ExecutableAdvice {
    # What the user can do when the system refuses to run the executable; macOS needs the unsigned
    # binary signed once (Apple Silicon) and a browser download's quarantine flag removed.
    param([string]$RuntimeIdentifier, [string]$Path)
    if ($RuntimeIdentifier -like 'darwin-*') {
        return (" The macOS executables are not signed: run once in a terminal: codesign --sign - '{0}'; xattr -d com.apple.quarantine '{0}'" -f $Path)
    }
    if ($RuntimeIdentifier -like 'linux-*') {
        return (" If it is not executable, run as the owner of the module's folder: chmod +x '{0}'. The Linux executables need glibc 2.28 or later (not Alpine/musl)." -f $Path)
    }
    if ($RuntimeIdentifier -eq 'win-x64' -and (Get-HostPlatform).Architecture -match '^arm64$') {
        return ' On Windows on Arm the x64 executable runs through emulation, which needs Windows 11.'
    }
    return ''
}

function Resolve-Executable {
    # The executable for this machine, or a terminating error that says which package to install.
    param([System.Management.Automation.PSCmdlet]$Cmdlet)
    $hostPlatform = Get-HostPlatform
    $rid = Get-RuntimeIdentifier -Platform $hostPlatform.Platform -Architecture $hostPlatform.Architecture
    if ($null -eq $rid) {
        $Cmdlet.ThrowTerminatingError((New-ErrorRecord -Message ("Az.KeyVault.Backup has no executable for {0} on {1}; it ships for Windows (x64, and Arm64 on Windows 11 through emulation), Linux (x64, arm64) and macOS (x64, arm64)." -f $hostPlatform.Platform, $hostPlatform.Architecture) -ErrorId 'PlatformNotSupported' -Category NotImplemented -TargetObject ('{0}/{1}' -f $hostPlatform.Platform, $hostPlatform.Architecture)))
    }
    $path = Get-ExecutablePath -RuntimeIdentifier $rid
    if (-not [System.IO.File]::Exists($path)) {
        $packaged = @(Get-PackagedRuntimeIdentifiers)
        $has = 'no executables at all'
        if ($packaged.Count -gt 0) { $has = 'the executables for ' + ($packaged -join ', ') + ' only' }
        $message = "The az-keyvault-backup executable for this computer ({0}) was not found at '{1}': this copy of the module has {2}. Install the package Az.KeyVault.Backup-{3}-{0}.zip or the all-platform one (Az.KeyVault.Backup-{3}-all.zip)." -f $rid, $path, $has, (Get-ModuleVersionText)
        $Cmdlet.ThrowTerminatingError((New-ErrorRecord -Message $message -ErrorId 'ExecutableNotFound' -Category ObjectNotFound -TargetObject $path))
    }
    return [pscustomobject]@{ RuntimeIdentifier = $rid; Path = $path }
}

function Get-ServeArgumentList {
    param([System.Collections.IDictionary]$Values)
    $list = [System.Collections.Generic.List[string]]::new()
    $list.Add('serve')
    foreach ($key in $script:ServeArgumentMap.Keys) {
        if ($Values.Contains($key) -and $null -ne $Values[$key]) {
            $list.Add([string]$script:ServeArgumentMap[$key])
            $list.Add([string]$Values[$key])
        }
    }
    return , $list.ToArray()
}

# .NET Framework (Windows PowerShell 5.1) has no ProcessStartInfo.ArgumentList: there the child's
# command line is one quoted string. Decided once; the Windows suite sets it to prove that path
# against the real Windows command-line parsing of the executable under PowerShell 7.
$script:UseArgumentString = $null -eq [System.Diagnostics.ProcessStartInfo].GetProperty('ArgumentList')

function ConvertTo-WindowsArgument {
    # .NET Framework has no ProcessStartInfo.ArgumentList; quote each element the way the
    # Microsoft C runtime splits a command line back into argv.
    param([string]$Value)
    if ($Value.Length -gt 0 -and $Value -notmatch '[\s"]') { return $Value }
    $builder = [System.Text.StringBuilder]::new()
    [void]$builder.Append('"')
    $backslashes = 0
    foreach ($c in $Value.ToCharArray()) {
        if ($c -eq [char]'\') { $backslashes++; continue }
        if ($c -eq [char]'"') { [void]$builder.Append([char]'\', 2 * $backslashes + 1) }
        else { [void]$builder.Append([char]'\', $backslashes) }
        [void]$builder.Append($c)
        $backslashes = 0
    }
    [void]$builder.Append([char]'\', 2 * $backslashes)
    [void]$builder.Append('"')
    return $builder.ToString()
}
