# Az.KeyVault.Backup: Backup-AzKeyVaultSecret as a drop-in for the Az.KeyVault cmdlet.
# The work is done by the bundled az-keyvault-backup executable, started once per runspace by its
# first call, reused by every later call and pipeline, and driven over the JSON-lines protocol in
# docs/protocol.md. This file must stay parsable by
# Windows PowerShell 5.1: no ternary, ??, &&/||, clean {}, $IsLinux and friends.

# Attribute arguments must be literals, so the param block repeats these names; the body compares
# against the constants so a typo there fails loudly instead of silently choosing no branch.
Set-Variable -Scope Script -Option Constant -Name SetBySecretName -Value 'BySecretName'
Set-Variable -Scope Script -Option Constant -Name SetBySecret -Value 'BySecret'
Set-Variable -Scope Script -Option Constant -Name SetBySecretUri -Value 'BySecretUri'

Set-Variable -Scope Script -Option Constant -Name ProtocolVersion -Value 2
Set-Variable -Scope Script -Option Constant -Name ExecutableBaseName -Value 'az-keyvault-backup'
Set-Variable -Scope Script -Option Constant -Name HandshakeTimeoutMs -Value 60000
Set-Variable -Scope Script -Option Constant -Name AbortGraceMs -Value 2000
Set-Variable -Scope Script -Option Constant -Name StderrTailLines -Value 40
Set-Variable -Scope Script -Option Constant -Name ResultBatchMs -Value 10
# Items of a pipeline written to the executable one flush each, before batching takes over.
Set-Variable -Scope Script -Option Constant -Name EagerItems -Value 4
# How long the session executable waits for the next call before it ends; 0 means a new one for
# every call. An environment variable, so changing it starts a new executable like any other setting.
Set-Variable -Scope Script -Option Constant -Name IdleSecondsVariable -Value 'AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS'
Set-Variable -Scope Script -Option Constant -Name DefaultIdleSeconds -Value 300
Set-Variable -Scope Script -Option Constant -Name SessionRegistryName -Value 'Az.KeyVault.Backup.Sessions'
Set-Variable -Scope Script -Option Constant -Name PublicKeyVaultResource -Value 'https://vault.azure.net'
# When Get-AzAccessToken gives no readable expiry: well over the executable's 2-minute margin, or
# every item would fetch a token again; shorter than Entra's shortest token lifetime (an hour).
Set-Variable -Scope Script -Option Constant -Name UnknownTokenLifetimeSeconds -Value 3000

# The only way module settings become executable arguments: argv is built from this table as an
# array, never from a command string, so no value can be re-parsed as another switch.
$script:ServeArgumentMap = [ordered]@{
    LogLevel    = '--log-level'
    IdleSeconds = '--idle-timeout-seconds'
}

# The common parameter that overrides each preference variable: when the caller bound it, PowerShell
# has already set the variable in the function's scope and the caller's value must not replace it.
# ProgressAction exists from PowerShell 7.4 only; before that it is simply never bound.
$script:CallerPreferences = [ordered]@{
    ErrorAction       = 'ErrorActionPreference'
    WarningAction     = 'WarningPreference'
    InformationAction = 'InformationPreference'
    ProgressAction    = 'ProgressPreference'
    Verbose           = 'VerbosePreference'
    Debug             = 'DebugPreference'
    WhatIf            = 'WhatIfPreference'
    Confirm           = 'ConfirmPreference'
}

# The session executable this runspace's calls share (a module's script scope is per runspace),
# and every session still serving a pipeline (a replaced one finishes the pipelines it has).
$script:Session = $null
$script:Sessions = [System.Collections.Generic.List[object]]::new()
# Az contexts by identity, each with the short name the executable keys its tokens by.
$script:ContextNames = @{}
# Pipelines begun in a session and not yet answered: one stopped before its end block (on a host
# without a clean block) is found here and cancelled by the next call, or when the module is removed.
$script:LivePipelines = [System.Collections.Generic.List[object]]::new()

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
    param([string]$RuntimeIdentifier, [string]$ModuleBase = $PSScriptRoot)
    $name = $script:ExecutableBaseName
    if ($RuntimeIdentifier -like 'win-*') { $name = $name + '.exe' }
    return [System.IO.Path]::Combine($ModuleBase, 'bin', $RuntimeIdentifier, $name)
}

function Get-PackagedRuntimeIdentifiers {
    param([string]$ModuleBase = $PSScriptRoot)
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

# An absolute path on Linux or macOS with nothing PowerShell would resolve in it (wildcards, ~).
$script:PlainUnixPath = [regex]::new('^/[^\*\?\[\]`~\\]*$', [System.Text.RegularExpressions.RegexOptions]::Compiled)

# Printable ASCII but for the quote and the backslash: such a string is its own JSON body.
$script:PlainJsonText = [regex]::new('^[\x20-\x21\x23-\x5B\x5D-\x7E]*$', [System.Text.RegularExpressions.RegexOptions]::Compiled)

# A success result as the executable writes it, with a path that needs no JSON unescaping.
$script:SuccessResultLine = [regex]::new('^\{"type":"result","id":(\d+),"ok":true,"path":"([^"\\]*)","bytes":\d+(?:,"logged":(\d+))?\}$', [System.Text.RegularExpressions.RegexOptions]::Compiled)
# The executable's answer to a pipeline's 'end', which the module does not wait for (it already has
# every result): read past cheaply by whichever call reads next.
$script:DoneLine = [regex]::new('^\{"type":"done","pipeline":\d+,', [System.Text.RegularExpressions.RegexOptions]::Compiled)

function ConvertTo-JsonString {
    # ASCII-only JSON strings mean the encoding of the child's stdin can never garble a secret
    # name, even under Windows PowerShell where the stdin encoding cannot be chosen.
    param([string]$Value)
    if ($script:PlainJsonText.IsMatch($Value)) { return '"' + $Value + '"' }
    $builder = [System.Text.StringBuilder]::new($Value.Length + 16)
    [void]$builder.Append([char]'"')
    foreach ($c in $Value.ToCharArray()) {
        $code = [int]$c
        if ($c -eq [char]'"') { [void]$builder.Append('\"') }
        elseif ($c -eq [char]'\') { [void]$builder.Append('\\') }
        elseif ($code -lt 0x20 -or $code -gt 0x7E) { [void]$builder.Append(('\u{0:x4}' -f $code)) }
        else { [void]$builder.Append($c) }
    }
    [void]$builder.Append([char]'"')
    return $builder.ToString()
}

function ConvertTo-ProtocolLine {
    # Written by hand rather than with ConvertTo-Json, which costs about a millisecond per call:
    # more than the backup itself when a whole vault is piped. Messages are flat: strings,
    # numbers, booleans and arrays of strings.
    param([System.Collections.IDictionary]$Message)
    $parts = [System.Collections.Generic.List[string]]::new()
    foreach ($key in $Message.Keys) {
        $value = $Message[$key]
        if ($value -is [string] -and $script:PlainJsonText.IsMatch($value)) { $json = '"' + $value + '"' }
        elseif ($null -eq $value) { $json = 'null' }
        elseif ($value -is [bool]) { if ($value) { $json = 'true' } else { $json = 'false' } }
        elseif ($value -is [int] -or $value -is [long] -or $value -is [double]) { $json = ([System.IFormattable]$value).ToString($null, [System.Globalization.CultureInfo]::InvariantCulture) }
        elseif ($value -is [System.Collections.IEnumerable] -and $value -isnot [string]) {
            $items = foreach ($item in $value) { ConvertTo-JsonString -Value ([string]$item) }
            $json = '[' + (@($items) -join ',') + ']'
        }
        else { $json = ConvertTo-JsonString -Value ([string]$value) }
        # Keys are this module's own identifiers: plain ASCII.
        $parts.Add('"' + $key + '":' + $json)
    }
    return '{' + ($parts -join ',') + '}'
}

function Hide-Token {
    param([string]$Line)
    return [regex]::Replace($Line, '("token"\s*:\s*)"(?:[^"\\]|\\.)*"', '$1"***"')
}

function New-ErrorRecord {
    param(
        [string]$Message,
        [string]$ErrorId,
        [System.Management.Automation.ErrorCategory]$Category,
        $TargetObject,
        [System.Exception]$InnerException
    )
    if ($null -ne $InnerException) { $exception = [System.InvalidOperationException]::new($Message, $InnerException) }
    else { $exception = [System.InvalidOperationException]::new($Message) }
    return [System.Management.Automation.ErrorRecord]::new($exception, $ErrorId, $Category, $TargetObject)
}

function ConvertTo-ErrorCategory {
    param([string]$Name)
    $category = [System.Management.Automation.ErrorCategory]::NotSpecified
    if ($Name) {
        try { $category = [System.Management.Automation.ErrorCategory]$Name } catch { $category = [System.Management.Automation.ErrorCategory]::NotSpecified }
    }
    return $category
}

function Get-SecretIdentity {
    # Az's PSKeyVaultSecretIdentityItem/PSKeyVaultSecret cannot be named without Az loaded, so any
    # object (or dictionary) with non-empty VaultName and Name is accepted.
    param($InputObject)
    if ($null -eq $InputObject) { return $null }
    $base = $InputObject
    if ($base -is [psobject]) { $base = $base.PSObject.BaseObject }
    if ($base -is [string] -or $base -is [System.ValueType]) { return $null }
    $vault = $null
    $name = $null
    if ($base -is [System.Collections.IDictionary]) {
        $vault = $base['VaultName']
        $name = $base['Name']
    }
    else {
        $vaultProperty = $InputObject.PSObject.Properties['VaultName']
        $nameProperty = $InputObject.PSObject.Properties['Name']
        if ($null -ne $vaultProperty) { $vault = $vaultProperty.Value }
        if ($null -ne $nameProperty) { $name = $nameProperty.Value }
    }
    if ($null -eq $vault -or $null -eq $name) { return $null }
    $vault = [string]$vault
    $name = [string]$name
    if ($vault.Length -eq 0 -or $name.Length -eq 0) { return $null }
    return @{ VaultName = $vault; Name = $name }
}

function Get-SecretUriParts {
    # Only for the ShouldProcess target and messages; the executable validates the URI itself.
    param([string]$Id)
    $uri = $null
    if (-not [System.Uri]::TryCreate($Id, [System.UriKind]::Absolute, [ref]$uri)) { return $null }
    $segments = @($uri.AbsolutePath.Split([char]'/') | Where-Object { $_ })
    for ($i = 0; $i -lt $segments.Count - 1; $i++) {
        if ($segments[$i] -eq 'secrets') {
            return @{ VaultName = $uri.Host.Split([char]'.')[0]; Name = [System.Uri]::UnescapeDataString($segments[$i + 1]) }
        }
    }
    return $null
}

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

function New-PipelineState {
    param($Cmdlet, [int]$ThrottleLimit, [string]$LogLevel, $DefaultProfile)
    return @{
        Cmdlet        = $Cmdlet
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
    $begin = [ordered]@{ type = 'begin'; pipeline = $State.Id; concurrency = $State.ThrottleLimit; logLevel = $State.LogLevel }
    if ($State.Context) { $begin.context = $State.Context }
    if ($State.DnsSuffix) { $begin.dnsSuffix = $State.DnsSuffix }
    # Written with the first item's line, in one write: one wake-up of the executable, not two.
    $State.BeginLine = ConvertTo-ProtocolLine -Message $begin
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

function Get-AzContextFromProfile {
    # -DefaultProfile takes what Get-AzContext returns (a context) or a context container
    # (what Connect-AzAccount returns), whose DefaultContext is the one Az cmdlets use.
    param($DefaultProfile)
    $container = $DefaultProfile.PSObject.Properties['DefaultContext']
    if ($null -ne $container -and $null -ne $container.Value) { return $container.Value }
    return $DefaultProfile
}

function Get-PropertyText {
    param($Object, [string]$Name)
    if ($null -eq $Object) { return $null }
    $property = $Object.PSObject.Properties[$Name]
    if ($null -eq $property -or $null -eq $property.Value) { return $null }
    $text = [string]$property.Value
    if ($text.Length -eq 0) { return $null }
    return $text
}

function Initialize-AzSignIn {
    # Signs in the way Az does when Az.Accounts is loaded and has a context (or -DefaultProfile is
    # given): the context's cloud gives the vault DNS suffix and Key Vault resource, and the
    # executable asks for its tokens over the protocol (tokenRequest), which are sent over stdin
    # only. Each context gets a name of its own, so the executable never gives one context's token
    # to another. Az is never imported here: only a loaded Az.Accounts counts.
    param([hashtable]$State)
    $profileGiven = $null -ne $State.DefaultProfile
    $accounts = @(Get-Module -Name 'Az.Accounts')[0]
    $context = $null
    if ($profileGiven) {
        $context = Get-AzContextFromProfile -DefaultProfile $State.DefaultProfile
    }
    else {
        # Get-Module, not Get-Command: it costs a fraction of a millisecond instead of tens, on every call.
        $getContext = $null
        if ($null -ne $accounts) { $getContext = $accounts.ExportedCommands['Get-AzContext'] }
        if ($null -eq $getContext) {
            if ($State.VerboseOn) { Write-Verbose 'Az.Accounts is not loaded: az-keyvault-backup signs in by itself (environment, managed identity, Azure CLI, Azure PowerShell).' }
            return
        }
        try { $context = & $getContext -ErrorAction Stop }
        catch {
            Write-Verbose ('Get-AzContext failed ({0}): az-keyvault-backup signs in by itself.' -f $_.Exception.Message)
            return
        }
        if ($null -eq $context) {
            Write-Verbose 'Az.Accounts is loaded but has no context (Connect-AzAccount was not run): az-keyvault-backup signs in by itself.'
            return
        }
    }

    $environment = $null
    $environmentProperty = $context.PSObject.Properties['Environment']
    if ($null -ne $environmentProperty) { $environment = $environmentProperty.Value }
    $suffix = Get-PropertyText -Object $environment -Name 'AzureKeyVaultDnsSuffix'
    if ($null -ne $suffix) { $State.DnsSuffix = $suffix.TrimStart([char]'.') }
    $resource = Get-PropertyText -Object $environment -Name 'AzureKeyVaultServiceEndpointResourceId'
    if ($null -eq $resource) { $resource = $script:PublicKeyVaultResource }

    $tokenCommand = $null
    if ($null -ne $accounts) { $tokenCommand = $accounts.ExportedCommands['Get-AzAccessToken'] }
    if ($null -eq $tokenCommand) {
        $text = 'Get-AzAccessToken (Az.Accounts) is not loaded, so the Az context cannot give a token: az-keyvault-backup signs in by itself.'
        if ($profileGiven) { Write-Warning ('-DefaultProfile was given, but ' + $text) } else { Write-Verbose $text }
        return
    }

    $tenantId = Get-PropertyText -Object $context.Tenant -Name 'Id'
    $account = Get-PropertyText -Object $context.Account -Name 'Id'
    # Which identity a token would be for: a different account, tenant, cloud, context or profile
    # is a different name, so their tokens are never mixed up in the executable.
    $identity = @($account, $tenantId, (Get-PropertyText -Object $environment -Name 'Name'), $resource, (Get-PropertyText -Object $context -Name 'Name'), $profileGiven) -join "`n"
    $name = $script:ContextNames[$identity]
    if ($null -eq $name) {
        $name = 'az{0}' -f ($script:ContextNames.Count + 1)
        $script:ContextNames[$identity] = $name
    }
    $State.Context = $name
    $State.SignIn = @{ Command = $tokenCommand; Profile = $State.DefaultProfile; Resource = $resource; TenantId = $tenantId; Account = $account }
    Write-Verbose ("Signing in with the Az context: account '{0}', tenant {1}, Key Vault resource {2}, vault DNS suffix {3}." -f $account, $tenantId, $resource, $State.DnsSuffix)
}

function Resolve-TokenRequest {
    # The executable asks when it has no fresh token of that context for the tenant the vault's
    # challenge names; it waits a bounded time and otherwise uses its own credential chain.
    param($Session, $Pipeline, [string]$Context, [string]$TenantId)
    $signIn = $Session.Contexts[$Context]
    $declined = $null
    if ($null -eq $signIn) { $declined = 'this session has no Az context of that name' }
    else {
        $tenantArgument = $TenantId
        if ($TenantId -and $signIn.TenantId -and $TenantId -eq $signIn.TenantId) { $tenantArgument = $null }
        try {
            $token = Get-AzKeyVaultToken -SignIn $signIn -TenantId $tenantArgument
            if ($TenantId) { $token.TenantId = $TenantId }
            if (-not $Pipeline.Quiet) { Write-Verbose ('Gave az-keyvault-backup a Key Vault token for tenant {0} from the Az context.' -f $token.TenantId) }
            $message = [ordered]@{ type = 'token'; context = $Context; token = $token.Token; expiresOn = $token.ExpiresOn }
            if ($token.TenantId) { $message.tenantId = $token.TenantId }
            # The executable uses a token only for the resource it was issued for.
            if ($token.Resource) { $message.resource = $token.Resource }
            Send-SessionLine -Session $Session -Pipeline $Pipeline -Line (ConvertTo-ProtocolLine -Message $message)
            return
        }
        catch {
            if ($_.Exception -is [System.Management.Automation.PipelineStoppedException]) { throw }
            $declined = $_.Exception.Message
        }
        if (-not $Pipeline.Quiet -and -not $Session.WarnedContexts.ContainsKey($Context)) {
            $Session.WarnedContexts[$Context] = $true
            Write-Warning ('The Az context of {0} could not give a Key Vault token ({1}); az-keyvault-backup signs in by itself.' -f $signIn.Account, $declined)
        }
    }
    if (-not $Pipeline.Quiet) { Write-Verbose ('No Key Vault token from the Az context for tenant {0}: {1}' -f $TenantId, $declined) }
    $reply = [ordered]@{ type = 'tokenUnavailable'; context = $Context; message = [string]$declined }
    if ($TenantId) { $reply.tenantId = $TenantId }
    Send-SessionLine -Session $Session -Pipeline $Pipeline -Line (ConvertTo-ProtocolLine -Message $reply)
}

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
            if ($message.ok) { $entry.Path = [string]$message.path }
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
            Resolve-TokenRequest -Session $Session -Pipeline $Pipeline -Context $context -TenantId $tenant
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
                $State.Cmdlet.WriteObject($head.Path)
            }
            else {
                $failure = $head.Failure
                # The executable composed the whole message; only its category is mapped here.
                $record = New-ErrorRecord -Message ([string]$failure.message) -ErrorId ([string]$failure.errorId) -Category (ConvertTo-ErrorCategory -Name ([string]$failure.category)) -TargetObject $head.Target
                # Signing in fails the same way for every item: one terminating error for the pipeline
                # instead of one per secret (the executable fails the rest at once with the same error).
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

function ConvertTo-EpochSeconds {
    # DateTimeOffset.ToUnixTimeSeconds needs .NET Framework 4.6; Windows PowerShell 5.1 may run on 4.5.
    param([System.DateTimeOffset]$Time)
    $epoch = [System.DateTimeOffset]::new(1970, 1, 1, 0, 0, 0, [System.TimeSpan]::Zero)
    return [long][System.Math]::Floor(($Time - $epoch).TotalSeconds)
}

function Get-AzKeyVaultToken {
    # The token comes back as a SecureString from Az.Accounts 5 on and as a string before; it is
    # turned into text only to be written to the executable's stdin, and never logged.
    param([hashtable]$SignIn, [string]$TenantId)
    $arguments = @{ ResourceUrl = $SignIn.Resource; ErrorAction = 'Stop'; WarningAction = 'SilentlyContinue' }
    if ($null -ne $SignIn.Profile) { $arguments.DefaultProfile = $SignIn.Profile }
    if ($TenantId) { $arguments.TenantId = $TenantId }
    $answer = & $SignIn.Command @arguments | Select-Object -First 1
    if ($null -eq $answer -or $null -eq $answer.Token) { throw 'Get-AzAccessToken returned no token.' }
    $secret = $answer.Token
    if ($secret -is [System.Security.SecureString]) { $text = [System.Net.NetworkCredential]::new('', $secret).Password }
    else { $text = [string]$secret }
    if (-not $text) { throw 'Get-AzAccessToken returned an empty token.' }
    $expires = $answer.ExpiresOn
    if ($expires -is [System.DateTimeOffset]) { $epoch = ConvertTo-EpochSeconds -Time $expires }
    elseif ($expires -is [System.DateTime]) { $epoch = ConvertTo-EpochSeconds -Time ([System.DateTimeOffset]$expires.ToUniversalTime()) }
    else { $epoch = (ConvertTo-EpochSeconds -Time ([System.DateTimeOffset]::UtcNow)) + $script:UnknownTokenLifetimeSeconds }
    $tenant = $TenantId
    if (-not $tenant) { $tenant = Get-PropertyText -Object $answer -Name 'TenantId' }
    if (-not $tenant) { $tenant = $SignIn.TenantId }
    if (-not $TenantId) { $SignIn.ExpiresOn = [long]$epoch }
    return @{ Token = $text; ExpiresOn = [long]$epoch; TenantId = $tenant; Resource = $SignIn.Resource }
}

function Invoke-BackupItem {
    # The per-item path: only what PowerShell must do (identity, ShouldProcess, the path against
    # the PowerShell location, the overwrite prompt) and one protocol line. Everything an item
    # shares with the others went once, in the pipeline's 'begin'.
    param(
        [hashtable]$State,
        [string]$ParameterSetName,
        [string]$VaultName,
        [string]$Name,
        $InputObject,
        [string]$Id,
        [string]$OutputFile,
        [bool]$Force
    )
    $cmdlet = $State.Cmdlet
    $secretId = $null
    $targetObject = $Name
    if ($ParameterSetName -eq $script:SetBySecret) {
        $targetObject = $InputObject
        # The common case inline (an object with string VaultName and Name, as Get-AzKeyVaultSecret
        # emits): a call per item costs more than the rest of the item's work.
        $identity = $null
        $properties = $InputObject.PSObject.Properties
        $vaultProperty = $properties['VaultName']
        $nameProperty = $properties['Name']
        if ($null -ne $vaultProperty -and $null -ne $nameProperty -and $vaultProperty.Value -is [string] -and $nameProperty.Value -is [string] -and $vaultProperty.Value.Length -gt 0 -and $nameProperty.Value.Length -gt 0 -and $InputObject.PSObject.BaseObject -isnot [System.Collections.IDictionary]) {
            $identity = @{ VaultName = $vaultProperty.Value; Name = $nameProperty.Value }
        }
        else { $identity = Get-SecretIdentity -InputObject $InputObject }
        if ($null -eq $identity) {
            $typeName = 'null'
            if ($null -ne $InputObject) { $typeName = $InputObject.GetType().FullName }
            Add-LocalError -State $State -ErrorRecord (New-ErrorRecord -Message ("The input object of type '{0}' is not a Key Vault secret: it needs non-empty VaultName and Name properties, like the objects Get-AzKeyVaultSecret emits." -f $typeName) -ErrorId 'InvalidInputObject' -Category InvalidArgument -TargetObject $InputObject)
            Sync-Output -State $State
            return
        }
        $VaultName = $identity.VaultName
        $Name = $identity.Name
    }
    elseif ($ParameterSetName -eq $script:SetBySecretUri) {
        $secretId = $Id
        $parts = Get-SecretUriParts -Id $Id
        if ($null -ne $parts) { $VaultName = $parts.VaultName; $Name = $parts.Name; $targetObject = $parts.Name }
        else { $VaultName = $null; $Name = $null; $targetObject = $Id }
    }
    elseif ($ParameterSetName -ne $script:SetBySecretName) {
        throw ('Unknown parameter set {0}' -f $ParameterSetName)
    }

    $shouldProcessTarget = $Name
    if (-not $shouldProcessTarget) { $shouldProcessTarget = $Id }
    if (-not $cmdlet.ShouldProcess($shouldProcessTarget, 'Backup secret')) {
        Sync-Output -State $State
        return
    }

    $forceWrite = $Force
    $target = $null
    $after = $null
    $file = $null
    if ($OutputFile) {
        # -OutputFile is bound once per pipeline: resolved again only when the location it is
        # relative to has changed (an upstream command may Set-Location).
        $location = $cmdlet.SessionState.Path.CurrentLocation.Path
        # Ordinal: a location that differs only in case is another directory on Linux.
        if ($null -ne $State.ResolvedTarget -and [string]::Equals($State.ResolvedFrom, $location, [System.StringComparison]::Ordinal)) { $target = $State.ResolvedTarget }
        else {
            $target = Resolve-OutputFile -Cmdlet $cmdlet -OutputFile $OutputFile -TargetObject $targetObject
            if ($target -isnot [System.Management.Automation.ErrorRecord]) { $State.ResolvedTarget = $target; $State.ResolvedFrom = $location }
        }
        if ($target -is [System.Management.Automation.ErrorRecord]) {
            Add-LocalError -State $State -ErrorRecord $target
            Sync-Output -State $State
            return
        }
    }
    # An existing directory named without a trailing separator means "default names inside it", as
    # Az's users expect of a folder: nothing to overwrite, and no item waits for another.
    if ($null -ne $target -and -not $target.IsDirectory -and -not [System.IO.Directory]::Exists($target.Path)) {
        $file = $target.Path
        # A directory gets a fresh default name inside it, so there is nothing to overwrite. A path
        # already targeted earlier in this pipeline counts as existing: its file may not be written yet.
        $earlier = [long]0
        $targetedBefore = $State.Targets.TryGetValue($file, [ref]$earlier)
        if ($targetedBefore) { $after = $earlier }
        $exists = $targetedBefore -or [System.IO.File]::Exists($file)
        if ($exists -and -not $Force) {
            $yesToAll = [bool]$State.YesToAll
            $noToAll = [bool]$State.NoToAll
            $confirmed = $false
            $promptFailure = $null
            try {
                $confirmed = $cmdlet.ShouldContinue(("Overwrite existing file at '{0}' ?" -f $file), 'Overwrite File ?', [ref]$yesToAll, [ref]$noToAll)
            }
            catch {
                if ($_.Exception -is [System.Management.Automation.PipelineStoppedException]) { throw }
                $promptFailure = $_.Exception
            }
            $State.YesToAll = $yesToAll
            $State.NoToAll = $noToAll
            if ($null -ne $promptFailure) {
                Add-LocalError -State $State -ErrorRecord (New-ErrorRecord -Message ("The file '{0}' already exists and cannot be confirmed for overwriting here ({1}). Use -Force to overwrite it." -f $file, $promptFailure.Message) -ErrorId 'FileExists' -Category ResourceExists -TargetObject $targetObject -InnerException $promptFailure)
                Sync-Output -State $State
                return
            }
            if (-not $confirmed) {
                Write-Verbose ("Not overwriting '{0}'." -f $file)
                Sync-Output -State $State
                return
            }
            $forceWrite = $true
        }
    }
    else {
        if ($null -ne $target) { $directory = $target.Path }
        else { $directory = $cmdlet.SessionState.Path.CurrentFileSystemLocation.ProviderPath }
    }

    if ($null -eq $State.Session) { Connect-BackupPipeline -State $State }
    $session = $State.Session
    $requestId = $session.NextId
    $session.NextId = $requestId + 1
    # Plain text is its own JSON body; only other text takes the escaping call.
    $plain = $script:PlainJsonText
    $line = '{"type":"backup","pipeline":' + $State.Id + ',"id":' + $requestId
    if ($null -ne $secretId) {
        if ($plain.IsMatch($secretId)) { $line += ',"secretId":"' + $secretId + '"' } else { $line += ',"secretId":' + (ConvertTo-JsonString -Value $secretId) }
    }
    elseif ($plain.IsMatch($VaultName) -and $plain.IsMatch($Name)) { $line += ',"vaultName":"' + $VaultName + '","name":"' + $Name + '"' }
    else { $line += ',"vaultName":' + (ConvertTo-JsonString -Value $VaultName) + ',"name":' + (ConvertTo-JsonString -Value $Name) }
    if ($null -ne $file) { $path = $file; $line += ',"outputFile":' }
    else { $path = $directory; $line += ',"directory":' }
    if ($plain.IsMatch($path)) { $line += '"' + $path + '"' } else { $line += ConvertTo-JsonString -Value $path }
    if ($null -ne $file) {
        if ($null -ne $after) { $line += ',"after":' + $after }
        $State.Targets[$file] = $requestId
    }
    if ($forceWrite) { $line += ',"force":true}' } else { $line += ',"force":false}' }

    $entry = @{ Done = $false; Path = $null; Failure = $null; ErrorRecord = $null; Target = $targetObject; Id = $requestId; Logged = 0 }
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

function Write-BackupProgress {
    # At most a few updates a second: Write-Progress per item would cost more than the backups.
    # While items still arrive the total is unknown (done so far); once input has ended it is.
    param([hashtable]$State, [switch]$Done)
    if ($Done) {
        if ($State.ProgressShown) { Write-Progress -Id 1 -Activity 'Backup-AzKeyVaultSecret' -Completed }
        return
    }
    if ($State.Accepted -lt 2) { return }
    if ($null -eq $State.ProgressWatch) { $State.ProgressWatch = [System.Diagnostics.Stopwatch]::StartNew() }
    elseif ($State.ProgressWatch.ElapsedMilliseconds -lt 250) { return }
    $State.ProgressWatch.Restart()
    $State.ProgressShown = $true
    if ($State.InputEnded) {
        $percent = [int][math]::Floor(100 * $State.Completed / [math]::Max(1, $State.Accepted))
        Write-Progress -Id 1 -Activity 'Backup-AzKeyVaultSecret' -Status ('{0} of {1} secrets backed up' -f $State.Completed, $State.Accepted) -PercentComplete $percent
    }
    else {
        Write-Progress -Id 1 -Activity 'Backup-AzKeyVaultSecret' -Status ('{0} secrets backed up, {1} in progress' -f $State.Completed, ($State.Accepted - $State.Completed))
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
    $text = 'Backed up {0} of {1} secret(s) in {2} s.' -f $State.Succeeded, $State.Completed, $State.Started.Elapsed.TotalSeconds.ToString('0.00', [System.Globalization.CultureInfo]::InvariantCulture)
    Write-Information -MessageData $text -Tags 'Az.KeyVault.Backup'
}

function Backup-AzKeyVaultSecret {
    <#
    .SYNOPSIS
    Backs up a secret in a key vault.

    .DESCRIPTION
    The Backup-AzKeyVaultSecret cmdlet backs up a specified secret in a key vault by downloading it
    and storing it in a file. If there are multiple versions of the secret, all versions are included
    in the backup. Because the downloaded content is encrypted, it cannot be used outside of Azure Key
    Vault. You can restore a backed-up secret to any key vault in the subscription that it was backed
    up from (Restore-AzKeyVaultSecret, or az keyvault secret restore: the files are the same bytes).

    This module is a drop-in for the Az.KeyVault cmdlet of the same name and does not need the Az
    modules. The work is done by the az-keyvault-backup executable bundled with the module. The
    first call in a PowerShell session (runspace) starts it, and every later call and pipeline
    reuses it, with its sign-in and connections, so a foreach loop of single calls costs about what
    Az's own cmdlet does. It backs up piped secrets concurrently (see -ThrottleLimit) and writes each
    file atomically. Results come out in input order. It ends when PowerShell or the module is
    removed, or after 5 minutes without a call ($env:AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS sets
    that; 0 gives a new executable for every call); a change of the environment (the vault URL
    override, proxy, CA file, AZURE_*, IDENTITY_* variables) starts a new one for the next call.

    Signing in works as for Az: when Az.Accounts is loaded and has a context (Connect-AzAccount,
    interactively, with a service principal or -Identity in a runbook), or -DefaultProfile is
    given, the Key Vault token comes from that context (Get-AzAccessToken) and its cloud decides the
    vault DNS suffix (vault.azure.cn, vault.usgovcloudapi.net, ...). The token goes to the executable
    over its standard input only, and is asked for again when it nears expiry or the vault names
    another tenant. Az is never imported by this module.

    Without an Az context the executable signs in with the environment, workload identity, managed
    identity (App Service, Azure Automation), Azure CLI, Azure PowerShell or Azure Developer CLI
    credentials, in that order. If nothing can sign in, one terminating error with the id
    AuthenticationFailed (category AuthenticationError) says what was tried and what to do.

    .PARAMETER VaultName
    Specifies the name of the key vault that contains the secret to back up.

    .PARAMETER Name
    Specifies the name of the secret to back up. Alias: SecretName.

    .PARAMETER InputObject
    Secret to be backed up, pipelined in from the output of a retrieval call (Get-AzKeyVaultSecret).
    Any object with VaultName and Name properties is accepted; other objects fail with the error id
    InvalidInputObject and the pipeline goes on. Alias: Secret.

    .PARAMETER Id
    The secret's URI, for example https://myvault.vault.azure.net/secrets/mysecret. A version
    segment is ignored: a backup holds all versions. Alias: SecretId.

    .PARAMETER OutputFile
    Specifies the output file in which the backup blob is stored. Relative paths, ~ and PowerShell
    drives are resolved against the current PowerShell location. If you do not specify this
    parameter, a file named <vault>-<secret>-<seconds since 1970> (lower-cased) is created in the
    current PowerShell location. If it names an existing directory, that default file name is used
    inside the directory. A path ending in / or \ always names a directory: if it does not exist
    the item fails with the error id OutputDirectoryNotFound and nothing is written (without the
    separator a missing path is a file, as in Az). Only file-system paths are accepted; a path of
    another provider (Variable:, Env:, HKCU:) fails with InvalidOutputFile.
    If the file exists, you are asked whether to overwrite it unless -Force
    is given; where no prompt is possible (pwsh -NonInteractive, runbooks) the item fails with the
    error id FileExists and the file is left untouched.

    .PARAMETER Force
    Overwrites an existing output file without asking. -Confirm:$false does not do this.

    .PARAMETER DefaultProfile
    The credentials, account, tenant, and subscription used for communication with Azure (an Az
    context, as returned by Get-AzContext or Connect-AzAccount). Its Key Vault token and cloud are
    used instead of the current context's; needs Az.Accounts loaded. Aliases: AzContext,
    AzureRmContext, AzureCredential.

    .PARAMETER ThrottleLimit
    The most backups in flight at once within one pipeline, 1 to 64; default 16. Not in Az.

    .PARAMETER WhatIf
    Shows what would happen if the cmdlet runs. The cmdlet is not run and no executable is started.

    .PARAMETER Confirm
    Prompts you for confirmation before backing up each secret.

    .INPUTS
    Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultSecretIdentityItem, or any object with VaultName and Name properties.

    .OUTPUTS
    System.String. The full path of each backup file.

    .EXAMPLE
    PS C:\Users\username\> Backup-AzKeyVaultSecret -VaultName 'MyKeyVault' -Name 'MySecret'

    C:\Users\username\mykeyvault-mysecret-1527029447.01191

    Backs up the secret MySecret of the key vault MyKeyVault to a file with an automatically
    generated name in the current location, and writes the file's path.

    .EXAMPLE
    PS C:\> Backup-AzKeyVaultSecret -VaultName 'MyKeyVault' -Name 'MySecret' -OutputFile 'C:\Backup.blob' -Force

    C:\Backup.blob

    Backs up the secret MySecret to the file C:\Backup.blob, overwriting it without prompting if it exists.

    .EXAMPLE
    PS C:\> $secret = Get-AzKeyVaultSecret -VaultName 'MyKeyVault' -Name 'MySecret'
    PS C:\> Backup-AzKeyVaultSecret -Secret $secret -OutputFile 'C:\Backup.blob'

    C:\Backup.blob

    Uses the $secret object's vault name and name to back up the secret to the file C:\Backup.blob.

    .EXAMPLE
    PS C:\> Get-AzKeyVaultSecret -VaultName 'MyKeyVault' | Backup-AzKeyVaultSecret -OutputFile ./backups -Force

    Backs up every secret of the vault MyKeyVault into the existing directory ./backups, one file
    per secret with its default name, several at a time. A secret that fails (for example a
    certificate-backed one) gives an error and the others go on.

    .EXAMPLE
    PS C:\> foreach ($name in 'db-password', 'api-key') { Backup-AzKeyVaultSecret -VaultName 'MyKeyVault' -Name $name -OutputFile "./backups/$name.blob" }

    One call per secret, as existing Az scripts do: the first call starts the executable and signs
    in, the later ones reuse it.

    .NOTES
    Differences from Az.KeyVault's Backup-AzKeyVaultSecret:
    - Several piped secrets without -OutputFile each get their own default file name (Az reuses the
      first name). Default names are lower-cased and use the platform's path separator.
    - -OutputFile may name an existing directory: each secret's default file name is used inside it.
    - Within one pipeline, a second item aimed at the same -OutputFile counts as an existing file.
    - Errors carry real categories and ids (SecretNotFound/ObjectNotFound, AccessDenied/PermissionDenied,
      AuthenticationFailed, Throttled, ConnectionFailed, FileExists/ResourceExists, WriteFailed,
      ServiceError, InvalidArgument, InvalidInputObject) and the service's own message.
    - When signing in fails, the pipeline ends with one terminating AuthenticationFailed error
      instead of one error per secret.
    - -ThrottleLimit is added. Piping $null or an empty string fails in parameter binding as it does in Az.
    - Files are written atomically; a stopped pipeline leaves no partial file behind.
    - As with Az's compiled cmdlet, the caller's preference variables ($ErrorActionPreference,
      $WhatIfPreference, $ConfirmPreference, $VerbosePreference and the others) are obeyed, also when
      set in a script's or a function's scope; an explicit common parameter wins over them. Each call
      ends with one information record summing it up (see -InformationVariable).

    .LINK
    about_Az.KeyVault.Backup

    .LINK
    Restore-AzKeyVaultSecret

    .LINK
    Get-AzKeyVaultSecret
    #>
    [CmdletBinding(DefaultParameterSetName = 'BySecretName', SupportsShouldProcess)]
    [OutputType([string])]
    param(
        [Parameter(Mandatory, Position = 0, ParameterSetName = 'BySecretName')]
        [ValidateNotNullOrEmpty()]
        [string]$VaultName,

        [Parameter(Mandatory, Position = 1, ParameterSetName = 'BySecretName')]
        [ValidateNotNullOrEmpty()]
        [Alias('SecretName')]
        [string]$Name,

        [Parameter(Mandatory, Position = 0, ValueFromPipeline, ParameterSetName = 'BySecret')]
        [ValidateNotNullOrEmpty()]
        [Alias('Secret')]
        [object]$InputObject,

        [Parameter(Mandatory, Position = 0, ParameterSetName = 'BySecretUri')]
        [ValidateNotNullOrEmpty()]
        [Alias('SecretId')]
        [string]$Id,

        [Parameter(Position = 2)]
        [ValidateNotNullOrEmpty()]
        [string]$OutputFile,

        [Parameter()]
        [switch]$Force,

        [Parameter()]
        [ValidateNotNullOrEmpty()]
        [Alias('AzContext', 'AzureRmContext', 'AzureCredential')]
        [object]$DefaultProfile,

        [Parameter()]
        [ValidateRange(1, 64)]
        [int]$ThrottleLimit = 16
    )

    begin {
        # A script module's function sees the module's and the global scope, not its caller's: a
        # runbook's top-level $ErrorActionPreference = 'Stop' would not reach it, where it does reach
        # Az's compiled cmdlet. So each preference the caller did not override with a common
        # parameter is taken from the caller's scope into this function's own scope, where
        # WriteError, ShouldProcess, Write-Verbose and Write-Progress read it. Inline, not in a
        # helper, which would set its own scope; and through the engine's API, not Set-Variable,
        # which would itself obey the $WhatIfPreference just taken.
        $callerVariables = $PSCmdlet.SessionState.PSVariable
        foreach ($preference in $script:CallerPreferences.GetEnumerator()) {
            if ($PSBoundParameters.ContainsKey($preference.Key)) { continue }
            $callerValue = $callerVariables.GetValue($preference.Value)
            if ($null -ne $callerValue) { $ExecutionContext.SessionState.PSVariable.Set($preference.Value, $callerValue) }
        }
        # Windows PowerShell maps -Debug to Inquire, which would prompt on every protocol line.
        if ($PSBoundParameters.ContainsKey('Debug') -and $DebugPreference -eq 'Inquire') { $DebugPreference = 'Continue' }
        # Both cost a call only when there is something to look at.
        if ($script:LivePipelines.Count -gt 0) { Stop-StalePipeline }
        if ($script:SessionRegistry.Count -gt $script:Sessions.Count) { Close-OrphanedSession }
        $logLevel = 'warning'
        if ($DebugPreference -ne 'SilentlyContinue' -and $DebugPreference -ne 'Ignore') { $logLevel = 'debug' }
        elseif ($VerbosePreference -ne 'SilentlyContinue' -and $VerbosePreference -ne 'Ignore') { $logLevel = 'verbose' }
        $pipelineState = New-PipelineState -Cmdlet $PSCmdlet -ThrottleLimit $ThrottleLimit -LogLevel $logLevel -DefaultProfile $DefaultProfile
        $pipelineState.InformationWanted = $PSBoundParameters.ContainsKey('InformationVariable') -or ($InformationPreference -ne 'SilentlyContinue' -and $InformationPreference -ne 'Ignore')
        # A session's first call starts the executable here, so it boots while PowerShell binds and
        # resolves the first item; the handshake is awaited when that item goes. Never under -WhatIf.
        if (-not $WhatIfPreference -and ($null -eq $script:Session -or $null -eq $script:Session.Process)) {
            [void](Get-BackupSession -Pipeline $pipelineState -NoWait)
        }
    }

    process {
        $finished = $false
        try {
            Invoke-BackupItem -State $pipelineState -ParameterSetName $PSCmdlet.ParameterSetName -VaultName $VaultName -Name $Name -InputObject $InputObject -Id $Id -OutputFile $OutputFile -Force $Force.IsPresent
            $finished = $true
        }
        finally {
            # Reached without $finished on a stop (Ctrl+C, Select-Object -First, a downstream throw)
            # or a terminating error: the end block will not run, so end the child here.
            if (-not $finished) {
                Write-BackupProgress -State $pipelineState -Done
                Stop-BackupPipeline -State $pipelineState
            }
        }
    }

    end {
        $finished = $false
        try {
            Complete-BackupPipeline -State $pipelineState
            $finished = $true
            Write-BackupSummary -State $pipelineState
        }
        finally {
            if ($pipelineState.ProgressShown) { Write-BackupProgress -State $pipelineState -Done }
            if (-not $finished) { Stop-BackupPipeline -State $pipelineState }
        }
    }
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

# 'clean' only parses on PowerShell 7.3 and later, and this file must parse on 5.1: so on 7.3+
# the function is defined again from its own text with a clean block added. The text is the one
# above (help included), and it is dot-sourced here, so it binds to this module's session state.
# Older versions rely on Stop-StalePipeline and OnRemove instead.
if ($PSVersionTable.PSVersion -ge [version]'7.3') {
    $backupFunctionAst = ${function:Backup-AzKeyVaultSecret}.Ast
    $backupFunctionText = $backupFunctionAst.Extent.Text
    # The body's closing brace: the clean block goes just before it, after end.
    $cleanAt = $backupFunctionAst.Body.Extent.EndOffset - 1 - $backupFunctionAst.Extent.StartOffset
    # The begin block's state is read directly (no Get-Variable call on every call): the module sets
    # no strict mode, and a begin block that failed leaves it $null, which the guard skips.
    $cleanBlock = "`n    clean {`n        if (`$null -ne `$pipelineState -and `$null -ne `$pipelineState.Session) { Stop-UnfinishedPipeline -State `$pipelineState }`n    }`n"
    . ([scriptblock]::Create($backupFunctionText.Substring(0, $cleanAt) + $cleanBlock + $backupFunctionText.Substring($cleanAt)))
    Remove-Variable -Name backupFunctionAst, backupFunctionText, cleanAt, cleanBlock
}

$script:SessionRegistry = Get-SessionRegistry

$ExecutionContext.SessionState.Module.OnRemove = {
    # Remove-Module and Import-Module -Force: every pipeline still open is cancelled, and each
    # session executable ends (stdin closed), so none outlives the module instance that started it.
    foreach ($state in @($script:LivePipelines.ToArray())) { Stop-BackupPipeline -State $state }
    foreach ($session in @($script:Sessions.ToArray())) { Close-BackupSession -Session $session -GraceMs $script:AbortGraceMs }
}

Export-ModuleMember -Function Backup-AzKeyVaultSecret
