# Az.KeyVault.Backup: Backup-AzKeyVaultSecret as a drop-in for the Az.KeyVault cmdlet.
# The work is done by the bundled az-keyvault-backup executable, started once per pipeline and
# driven over the JSON-lines protocol in docs/protocol.md. This file must stay parsable by
# Windows PowerShell 5.1: no ternary, ??, &&/||, clean {}, $IsLinux and friends.

# Attribute arguments must be literals, so the param block repeats these names; the body compares
# against the constants so a typo there fails loudly instead of silently choosing no branch.
Set-Variable -Scope Script -Option Constant -Name SetBySecretName -Value 'BySecretName'
Set-Variable -Scope Script -Option Constant -Name SetBySecret -Value 'BySecret'
Set-Variable -Scope Script -Option Constant -Name SetBySecretUri -Value 'BySecretUri'

Set-Variable -Scope Script -Option Constant -Name ProtocolVersion -Value 1
Set-Variable -Scope Script -Option Constant -Name ExecutableBaseName -Value 'az-keyvault-backup'
Set-Variable -Scope Script -Option Constant -Name HandshakeTimeoutMs -Value 60000
Set-Variable -Scope Script -Option Constant -Name AbortGraceMs -Value 2000
Set-Variable -Scope Script -Option Constant -Name StderrTailLines -Value 40
# A token from the Az context is fetched again once it has less than this left, before an item is
# sent; the executable stops using one 2 minutes before it expires, so it never has to.
Set-Variable -Scope Script -Option Constant -Name TokenRefreshSeconds -Value 300
Set-Variable -Scope Script -Option Constant -Name PublicKeyVaultResource -Value 'https://vault.azure.net'
# When Get-AzAccessToken gives no readable expiry: longer than TokenRefreshSeconds, or every item
# would fetch a token again; shorter than Entra's shortest token lifetime (an hour, less a margin).
Set-Variable -Scope Script -Option Constant -Name UnknownTokenLifetimeSeconds -Value 3000

# The only way module settings become executable arguments: argv is built from this table as an
# array, never from a command string, so no value can be re-parsed as another switch.
$script:ServeArgumentMap = [ordered]@{
    LogLevel      = '--log-level'
    ThrottleLimit = '--concurrency'
    DnsSuffix     = '--vault-dns-suffix'
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

# Children of pipelines that never reached their end block (stopped while another command ran) are
# found here and ended by the next invocation or when the module is removed.
$script:LiveChildren = [System.Collections.Generic.List[object]]::new()

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

# Printable ASCII but for the quote and the backslash: such a string is its own JSON body.
$script:PlainJsonText = [regex]::new('^[\x20-\x21\x23-\x5B\x5D-\x7E]*$', [System.Text.RegularExpressions.RegexOptions]::Compiled)

# A success result as the executable writes it, with a path that needs no JSON unescaping.
$script:SuccessResultLine = [regex]::new('^\{"type":"result","id":(\d+),"ok":true,"path":"([^"\\]*)","bytes":\d+\}$', [System.Text.RegularExpressions.RegexOptions]::Compiled)

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
    try { $resolved = $Cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath($OutputFile, [ref]$provider, [ref]$drive) }
    catch {
        if ($_.Exception -is [System.Management.Automation.PipelineStoppedException]) { throw }
        return New-ErrorRecord -Message ("The output file '{0}' cannot be resolved to a file-system path: {1}" -f $OutputFile, $_.Exception.Message) -ErrorId 'InvalidOutputFile' -Category InvalidArgument -TargetObject $TargetObject -InnerException $_.Exception
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
        # Set when an Az context gives Key Vault tokens: how to ask for one again. Never the token.
        AzSignIn      = $null
        DnsSuffix     = $null
        Process       = $null
        Stdin         = $null
        StdoutTask    = $null
        StderrTask    = $null
        StdoutEof     = $false
        StderrEof     = $false
        Hello         = $null
        HandshakeError = $null
        Bye           = $null
        Fatal         = $null
        ExecutablePath = $null
        StderrTail    = [System.Collections.Generic.List[string]]::new()
        Queue         = [System.Collections.Generic.Queue[object]]::new()
        Pending       = @{}
        NextId        = 1
        Targets       = [System.Collections.Generic.HashSet[string]]::new((Get-PathComparer))
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
        # Polling the child after every item would cost more than the backups when a whole vault is
        # piped in; polling every few tens of milliseconds keeps results streaming.
        SyncWatch     = [System.Diagnostics.Stopwatch]::StartNew()
        # Formatting debug and verbose text is skipped entirely when nobody will see it.
        DebugOn       = ($LogLevel -eq 'debug')
        VerboseOn     = ($LogLevel -ne 'warning')
    }
}

function Start-BackupChild {
    param([hashtable]$State)
    $cmdlet = $State.Cmdlet
    $executable = Resolve-Executable -Cmdlet $cmdlet
    $path = $executable.Path
    $State.ExecutablePath = $path
    $State.RuntimeIdentifier = $executable.RuntimeIdentifier

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

    # Probed here, when the first item is about to go, so importing the module and -WhatIf stay cheap.
    $firstToken = Initialize-AzSignIn -State $State
    $argumentValues = [ordered]@{ LogLevel = $State.LogLevel; ThrottleLimit = $State.ThrottleLimit; DnsSuffix = $State.DnsSuffix }
    $argv = Get-ServeArgumentList -Values $argumentValues
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
        $cmdlet.ThrowTerminatingError((New-ErrorRecord -Message ("The az-keyvault-backup executable at '{0}' could not be started: {1}.{2}" -f $path, $startError.Message.TrimEnd('.'), (Get-ExecutableAdvice -RuntimeIdentifier $State.RuntimeIdentifier -Path $path)) -ErrorId 'ExecutableFailed' -Category ResourceUnavailable -TargetObject $path -InnerException $startError))
    }

    $State.Process = $process
    [void]$script:LiveChildren.Add($State)
    $writer = [System.IO.StreamWriter]::new($process.StandardInput.BaseStream, $utf8)
    $writer.NewLine = "`n"
    $writer.AutoFlush = $false
    $State.Stdin = $writer
    $State.StdoutTask = $process.StandardOutput.ReadLineAsync()
    $State.StderrTask = $process.StandardError.ReadLineAsync()

    # 'tokenRequest': this module answers the executable's requests for a fresh or another tenant's token.
    Send-ChildMessage -State $State -Message ([ordered]@{ type = 'hello'; protocol = $script:ProtocolVersion; client = ('Az.KeyVault.Backup {0}' -f (Get-ModuleVersionText)); features = @('tokenRequest') })
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    while ($null -eq $State.Hello -and $null -eq $State.HandshakeError -and -not $State.StdoutEof -and $null -eq $State.Fatal) {
        if ($watch.ElapsedMilliseconds -gt $script:HandshakeTimeoutMs) {
            $cmdlet.ThrowTerminatingError((New-ErrorRecord -Message ("The az-keyvault-backup executable at '{0}' did not answer the handshake within {1} s." -f $path, ($script:HandshakeTimeoutMs / 1000)) -ErrorId 'ExecutableFailed' -Category ResourceUnavailable -TargetObject $path))
        }
        Read-ChildStream -State $State -TimeoutMs 100
    }
    if ($null -ne $State.Fatal) { $cmdlet.ThrowTerminatingError($State.Fatal) }
    $answer = $State.Hello
    if ($null -eq $answer) { $answer = $State.HandshakeError }
    if ($null -eq $answer) { $cmdlet.ThrowTerminatingError((New-ChildDiedRecord -State $State)) }
    $theirs = $answer.protocol
    if ($null -ne $State.HandshakeError -or [string]$theirs -ne [string]$script:ProtocolVersion) {
        $cmdlet.ThrowTerminatingError((New-ErrorRecord -Message ("Protocol version mismatch: module Az.KeyVault.Backup {0} speaks protocol {1}, executable '{2}' (version {3}) speaks protocol {4}. Reinstall the module." -f (Get-ModuleVersionText), $script:ProtocolVersion, $path, $answer.version, $theirs) -ErrorId 'ProtocolVersionMismatch' -Category InvalidData -TargetObject $path))
    }
    Write-Verbose ("az-keyvault-backup {0} ready (protocol {1})." -f $answer.version, $theirs)
    if ($null -ne $firstToken) { Send-TokenMessage -State $State -Token $firstToken }
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
    # given): the context's cloud gives the vault DNS suffix and Key Vault resource, and its tokens
    # go to the executable over stdin only. Az is never imported here: only a loaded Az.Accounts
    # counts, since importing it would cost seconds on every pipeline of users without Az.
    # Returns the first token, or $null when the executable must sign in by itself.
    param([hashtable]$State)
    $profileGiven = $null -ne $State.DefaultProfile
    $context = $null
    if ($profileGiven) {
        $context = Get-AzContextFromProfile -DefaultProfile $State.DefaultProfile
    }
    else {
        $getContext = Get-Command -Name 'Get-AzContext' -ListImported -ErrorAction Ignore | Select-Object -First 1
        if ($null -eq $getContext) {
            Write-Verbose 'Az.Accounts is not loaded: az-keyvault-backup signs in by itself (environment, managed identity, Azure CLI, Azure PowerShell).'
            return $null
        }
        try { $context = & $getContext -ErrorAction Stop }
        catch {
            Write-Verbose ('Get-AzContext failed ({0}): az-keyvault-backup signs in by itself.' -f $_.Exception.Message)
            return $null
        }
        if ($null -eq $context) {
            Write-Verbose 'Az.Accounts is loaded but has no context (Connect-AzAccount was not run): az-keyvault-backup signs in by itself.'
            return $null
        }
    }

    $environment = $null
    $environmentProperty = $context.PSObject.Properties['Environment']
    if ($null -ne $environmentProperty) { $environment = $environmentProperty.Value }
    $suffix = Get-PropertyText -Object $environment -Name 'AzureKeyVaultDnsSuffix'
    if ($null -ne $suffix) { $State.DnsSuffix = $suffix.TrimStart([char]'.') }
    $resource = Get-PropertyText -Object $environment -Name 'AzureKeyVaultServiceEndpointResourceId'
    if ($null -eq $resource) { $resource = $script:PublicKeyVaultResource }

    $tokenCommand = Get-Command -Name 'Get-AzAccessToken' -ListImported -ErrorAction Ignore | Select-Object -First 1
    if ($null -eq $tokenCommand) {
        $text = 'Get-AzAccessToken (Az.Accounts) is not loaded, so the Az context cannot give a token: az-keyvault-backup signs in by itself.'
        if ($profileGiven) { Write-Warning ('-DefaultProfile was given, but ' + $text) } else { Write-Verbose $text }
        return $null
    }

    $tenantId = Get-PropertyText -Object $context.Tenant -Name 'Id'
    $account = Get-PropertyText -Object $context.Account -Name 'Id'
    $signIn = @{ Command = $tokenCommand; Profile = $State.DefaultProfile; Resource = $resource; TenantId = $tenantId; ExpiresOn = [long]0; Warned = $false }
    $token = $null
    try { $token = Get-AzKeyVaultToken -SignIn $signIn -TenantId $null }
    catch {
        Write-Warning ('The Az context of {0} could not give a Key Vault token ({1}); az-keyvault-backup signs in by itself.' -f $account, $_.Exception.Message)
        return $null
    }
    $State.AzSignIn = $signIn
    Write-Verbose ("Signing in with the Az context: account '{0}', tenant {1}, Key Vault resource {2}, vault DNS suffix {3}." -f $account, $tenantId, $resource, $State.DnsSuffix)
    return $token
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

function Send-TokenMessage {
    param([hashtable]$State, [hashtable]$Token)
    $message = [ordered]@{ type = 'token'; token = $Token.Token; expiresOn = $Token.ExpiresOn }
    if ($Token.TenantId) { $message.tenantId = $Token.TenantId }
    # The executable uses a token only for the resource it was issued for.
    if ($Token.Resource) { $message.resource = $Token.Resource }
    Send-ChildMessage -State $State -Message $message
}

function Update-AzToken {
    # Before an item goes out: a token near its end is replaced, so no backup has to wait for a
    # tokenRequest round trip while the module is busy with the pipeline's input.
    param([hashtable]$State)
    $signIn = $State.AzSignIn
    if ($null -eq $signIn -or $signIn.Warned) { return }
    if ($signIn.ExpiresOn - (ConvertTo-EpochSeconds -Time ([System.DateTimeOffset]::UtcNow)) -gt $script:TokenRefreshSeconds) { return }
    try {
        $token = Get-AzKeyVaultToken -SignIn $signIn -TenantId $null
        Write-Verbose 'The Key Vault token from the Az context was renewed.'
        Send-TokenMessage -State $State -Token $token
    }
    catch {
        $signIn.Warned = $true
        Write-Warning ('The Key Vault token from the Az context could not be renewed ({0}); az-keyvault-backup signs in by itself once it expires.' -f $_.Exception.Message)
    }
}

function Resolve-TokenRequest {
    # The executable asks when its token is about to expire or the vault's challenge names another
    # tenant; it waits a bounded time and otherwise uses its own credential chain.
    param([hashtable]$State, [string]$TenantId)
    $signIn = $State.AzSignIn
    $declined = $null
    if ($null -eq $signIn) { $declined = 'this pipeline has no Az context' }
    else {
        $tenantArgument = $TenantId
        if ($TenantId -and $signIn.TenantId -and $TenantId -eq $signIn.TenantId) { $tenantArgument = $null }
        try {
            $token = Get-AzKeyVaultToken -SignIn $signIn -TenantId $tenantArgument
            if ($TenantId) { $token.TenantId = $TenantId }
            Write-Verbose ('Gave az-keyvault-backup a Key Vault token for tenant {0} from the Az context.' -f $token.TenantId)
            Send-TokenMessage -State $State -Token $token
            return
        }
        catch { $declined = $_.Exception.Message }
    }
    Write-Verbose ('No Key Vault token from the Az context for tenant {0}: {1}' -f $TenantId, $declined)
    $reply = [ordered]@{ type = 'tokenUnavailable'; message = [string]$declined }
    if ($TenantId) { $reply.tenantId = $TenantId }
    Send-ChildMessage -State $State -Message $reply
}

function Send-ChildMessage {
    param([hashtable]$State, $Message)
    $line = ConvertTo-ProtocolLine -Message $Message
    if ($State.DebugOn) { Write-Debug ('=> {0}' -f (Hide-Token -Line $line)) }
    $failure = $null
    try {
        $State.Stdin.Write($line + "`n")
        $State.Stdin.Flush()
    }
    catch { $failure = $_.Exception }
    if ($null -ne $failure) { $State.Cmdlet.ThrowTerminatingError((New-ChildDiedRecord -State $State -InnerException $failure)) }
}

function Get-TaskLine {
    # A faulted read (pipe closed under us) counts as end of stream.
    param($Task)
    try { return $Task.GetAwaiter().GetResult() } catch { return $null }
}

function Read-ChildStream {
    # Handles every line already read on stdout and stderr, optionally waiting up to TimeoutMs for
    # the first one. Runs on the pipeline thread so that Write-Verbose and friends are allowed.
    param([hashtable]$State, [int]$TimeoutMs = 0)
    if ($TimeoutMs -gt 0) {
        $tasks = @()
        if ($null -ne $State.StdoutTask) { $tasks += $State.StdoutTask }
        if ($null -ne $State.StderrTask) { $tasks += $State.StderrTask }
        if ($tasks.Count -gt 0) { [void][System.Threading.Tasks.Task]::WaitAny([System.Threading.Tasks.Task[]]$tasks, $TimeoutMs) }
    }
    do {
        $progressed = $false
        if ($null -ne $State.StderrTask -and $State.StderrTask.IsCompleted) {
            $progressed = $true
            # Inline rather than Get-TaskLine: this runs once per line of a whole vault.
            try { $line = $State.StderrTask.GetAwaiter().GetResult() } catch { $line = $null }
            if ($null -eq $line) { $State.StderrTask = $null; $State.StderrEof = $true }
            else {
                $State.StderrTask = $State.Process.StandardError.ReadLineAsync()
                Receive-StderrLine -State $State -Line $line
            }
        }
        if ($null -ne $State.StdoutTask -and $State.StdoutTask.IsCompleted) {
            $progressed = $true
            try { $line = $State.StdoutTask.GetAwaiter().GetResult() } catch { $line = $null }
            if ($null -eq $line) { $State.StdoutTask = $null; $State.StdoutEof = $true }
            else {
                $State.StdoutTask = $State.Process.StandardOutput.ReadLineAsync()
                Receive-StdoutLine -State $State -Line $line
            }
        }
    } while ($progressed)
}

function Receive-StderrLine {
    param([hashtable]$State, [string]$Line)
    $record = $null
    if ($Line.StartsWith('{')) {
        try { $record = ConvertFrom-Json -InputObject $Line } catch { $record = $null }
    }
    if ($null -eq $record -or $null -eq $record.PSObject.Properties['level'] -or $null -eq $record.PSObject.Properties['message']) {
        # Not a diagnostic: the runtime itself failing. Kept to explain a crash.
        $State.StderrTail.Add($Line)
        if ($State.StderrTail.Count -gt $script:StderrTailLines) { $State.StderrTail.RemoveAt(0) }
        Write-Debug ('stderr: {0}' -f $Line)
        return
    }
    switch ([string]$record.level) {
        'warning' { Write-Warning ([string]$record.message) }
        'debug' { Write-Debug ([string]$record.message) }
        default { Write-Verbose ([string]$record.message) }
    }
}

function Receive-StdoutLine {
    param([hashtable]$State, [string]$Line)
    if ($State.DebugOn) { Write-Debug ('<= {0}' -f (Hide-Token -Line $Line)) }
    # Most lines of a whole-vault run are successes; reading them without ConvertFrom-Json halves
    # the module's cost per secret. Paths with a backslash (all of Windows) take the general road.
    $success = $script:SuccessResultLine.Match($Line)
    if ($success.Success) {
        $entry = $State.Pending[$success.Groups[1].Value]
        if ($null -ne $entry) {
            $State.Pending.Remove($success.Groups[1].Value)
            $entry.Result = @{ type = 'result'; ok = $true; path = $success.Groups[2].Value }
            $entry.Done = $true
            return
        }
    }
    $message = $null
    try { $message = ConvertFrom-Json -InputObject $Line } catch { $message = $null }
    if ($null -eq $message -or $null -eq $message.PSObject.Properties['type']) {
        $State.Fatal = New-ErrorRecord -Message ("The az-keyvault-backup process wrote a line that is not protocol JSON: {0}" -f $Line) -ErrorId 'ProtocolError' -Category InvalidData -TargetObject $State.ExecutablePath
        return
    }
    switch ([string]$message.type) {
        'hello' { $State.Hello = $message }
        'result' {
            $key = [string]$message.id
            $entry = $State.Pending[$key]
            if ($null -eq $entry) {
                $State.Fatal = New-ErrorRecord -Message ("The az-keyvault-backup process answered an unknown request id '{0}'." -f $key) -ErrorId 'ProtocolError' -Category InvalidData -TargetObject $State.ExecutablePath
                return
            }
            $State.Pending.Remove($key)
            $entry.Result = $message
            $entry.Done = $true
        }
        'bye' { $State.Bye = $message }
        'tokenRequest' {
            $tenant = $null
            if ($null -ne $message.PSObject.Properties['tenantId']) { $tenant = [string]$message.tenantId }
            Resolve-TokenRequest -State $State -TenantId $tenant
        }
        'error' {
            if ($null -eq $State.Hello) { $State.HandshakeError = $message }
            else { $State.Fatal = New-ErrorRecord -Message ("The az-keyvault-backup process reported: {0}" -f $message.message) -ErrorId ([string]$message.errorId) -Category InvalidData -TargetObject $State.ExecutablePath }
        }
        'protocolError' {
            $tail = ($State.StderrTail -join [System.Environment]::NewLine)
            $State.Fatal = New-ErrorRecord -Message ("The az-keyvault-backup process rejected a request: {0} {1}" -f $message.message, $tail).Trim() -ErrorId 'ProtocolError' -Category InvalidData -TargetObject $State.ExecutablePath
        }
        default { Write-Debug ('Ignoring unknown message type {0}' -f $message.type) }
    }
}

function Get-ChildFailureDetail {
    # Collects exit code and the non-JSON stderr tail so a crash explains itself.
    param([hashtable]$State)
    $process = $State.Process
    $exitText = 'still running'
    if ($null -ne $process) {
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        while (-not $process.HasExited -and $watch.ElapsedMilliseconds -lt $script:AbortGraceMs) { [void]$process.WaitForExit(100) }
        while (-not $State.StderrEof -and $null -ne $State.StderrTask -and $watch.ElapsedMilliseconds -lt (2 * $script:AbortGraceMs)) {
            if ($State.StderrTask.Wait(100)) {
                $line = Get-TaskLine -Task $State.StderrTask
                if ($null -eq $line) { $State.StderrTask = $null; $State.StderrEof = $true }
                else { $State.StderrTask = $process.StandardError.ReadLineAsync(); Receive-StderrLine -State $State -Line $line }
            }
        }
        if ($process.HasExited) { $exitText = 'exit code {0}' -f $process.ExitCode }
    }
    if ($State.StderrTail.Count -gt 0) {
        return '{0}; stderr: "{1}"' -f $exitText, ($State.StderrTail -join [System.Environment]::NewLine)
    }
    return $exitText
}

function New-ChildDiedRecord {
    # Dying before the handshake means the file cannot run here (wrong platform, broken install);
    # dying later is a crash in the middle of the work.
    param([hashtable]$State, [System.Exception]$InnerException)
    $detail = Get-ChildFailureDetail -State $State
    if ($null -eq $State.Hello) {
        return New-ErrorRecord -Message ("The az-keyvault-backup executable at '{0}' exited before the handshake ({1}).{2}" -f $State.ExecutablePath, $detail, (Get-ExecutableAdvice -RuntimeIdentifier $State.RuntimeIdentifier -Path $State.ExecutablePath)) -ErrorId 'ExecutableFailed' -Category ResourceUnavailable -TargetObject $State.ExecutablePath -InnerException $InnerException
    }
    return New-ErrorRecord -Message ("The az-keyvault-backup process ended unexpectedly ({0})." -f $detail) -ErrorId 'ExecutableExited' -Category InvalidResult -TargetObject $State.ExecutablePath -InnerException $InnerException
}

function Assert-ChildHealthy {
    param([hashtable]$State)
    if ($null -ne $State.Fatal) { $State.Cmdlet.ThrowTerminatingError($State.Fatal) }
    if ($State.StdoutEof -and $null -eq $State.Bye) { $State.Cmdlet.ThrowTerminatingError((New-ChildDiedRecord -State $State)) }
}

function Write-ReadyEntry {
    # Output strictly in input order: local failures wait behind earlier requests in flight.
    param([hashtable]$State)
    while ($State.Queue.Count -gt 0) {
        $head = $State.Queue.Peek()
        if (-not $head.Done) { return }
        [void]$State.Queue.Dequeue()
        $State.Completed++
        if ($null -ne $head.ErrorRecord) {
            $State.Cmdlet.WriteError($head.ErrorRecord)
        }
        elseif ($head.Result.ok) {
            $State.Succeeded++
            $State.Cmdlet.WriteObject([string]$head.Result.path)
        }
        else {
            $record = ConvertFrom-ResultError -Entry $head
            # Signing in fails the same way for every item: one terminating error for the pipeline
            # instead of one per secret (the executable fails the rest at once with the same error).
            if ($null -ne $head.Result.error -and [string]$head.Result.error.errorId -eq 'AuthenticationFailed') { $State.Cmdlet.ThrowTerminatingError($record) }
            $State.Cmdlet.WriteError($record)
        }
    }
}

function ConvertFrom-ResultError {
    param([hashtable]$Entry)
    $failure = $Entry.Result.error
    $vault = $Entry.VaultName
    $name = $Entry.Name
    $message = 'The backup failed.'
    $errorId = 'InternalError'
    $categoryName = 'NotSpecified'
    if ($null -ne $failure) {
        if ($failure.message) { $message = [string]$failure.message }
        if ($failure.errorId) { $errorId = [string]$failure.errorId }
        if ($failure.category) { $categoryName = [string]$failure.category }
        if ($failure.vaultName) { $vault = [string]$failure.vaultName }
        if ($failure.name) { $name = [string]$failure.name }
    }
    if ($vault -and $name) { $message = "{0} (vault '{1}', secret '{2}')" -f $message, $vault, $name }
    elseif ($Entry.SecretId) { $message = "{0} (secret '{1}')" -f $message, $Entry.SecretId }
    return New-ErrorRecord -Message $message -ErrorId $errorId -Category (ConvertTo-ErrorCategory -Name $categoryName) -TargetObject $Entry.Target
}

function Add-LocalError {
    param([hashtable]$State, [System.Management.Automation.ErrorRecord]$ErrorRecord)
    $State.Queue.Enqueue(@{ Done = $true; ErrorRecord = $ErrorRecord })
    $State.Accepted++
}

function Invoke-BackupItem {
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
        $identity = Get-SecretIdentity -InputObject $InputObject
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

    $request = [ordered]@{ type = 'backup'; id = 0 }
    if ($null -ne $secretId) { $request.secretId = $secretId }
    else { $request.vaultName = $VaultName; $request.name = $Name }

    $forceWrite = $Force
    $target = $null
    if ($OutputFile) {
        $target = Resolve-OutputFile -Cmdlet $cmdlet -OutputFile $OutputFile -TargetObject $targetObject
        if ($target -is [System.Management.Automation.ErrorRecord]) {
            Add-LocalError -State $State -ErrorRecord $target
            Sync-Output -State $State
            return
        }
    }
    if ($null -ne $target -and -not $target.IsDirectory) {
        $resolved = $target.Path
        $request.outputFile = $resolved
        # A directory gets a fresh default name inside it, so there is nothing to overwrite. A path
        # already targeted earlier in this pipeline counts as existing: its file may not be written yet.
        $exists = -not [System.IO.Directory]::Exists($resolved) -and ([System.IO.File]::Exists($resolved) -or $State.Targets.Contains($resolved))
        if ($exists -and -not $Force) {
            $yesToAll = [bool]$State.YesToAll
            $noToAll = [bool]$State.NoToAll
            $confirmed = $false
            $promptFailure = $null
            try {
                $confirmed = $cmdlet.ShouldContinue(("Overwrite existing file at '{0}' ?" -f $resolved), 'Overwrite File ?', [ref]$yesToAll, [ref]$noToAll)
            }
            catch {
                if ($_.Exception -is [System.Management.Automation.PipelineStoppedException]) { throw }
                $promptFailure = $_.Exception
            }
            $State.YesToAll = $yesToAll
            $State.NoToAll = $noToAll
            if ($null -ne $promptFailure) {
                Add-LocalError -State $State -ErrorRecord (New-ErrorRecord -Message ("The file '{0}' already exists and cannot be confirmed for overwriting here ({1}). Use -Force to overwrite it." -f $resolved, $promptFailure.Message) -ErrorId 'FileExists' -Category ResourceExists -TargetObject $targetObject -InnerException $promptFailure)
                Sync-Output -State $State
                return
            }
            if (-not $confirmed) {
                Write-Verbose ("Not overwriting '{0}'." -f $resolved)
                Sync-Output -State $State
                return
            }
            $forceWrite = $true
        }
        [void]$State.Targets.Add($resolved)
        if ($State.VerboseOn) { Write-Verbose ("Backing up secret '{0}' from vault '{1}' to '{2}'." -f $Name, $VaultName, $resolved) }
    }
    else {
        if ($null -ne $target) { $directory = $target.Path }
        else { $directory = $cmdlet.SessionState.Path.CurrentFileSystemLocation.ProviderPath }
        $request.directory = $directory
        if ($State.VerboseOn) { Write-Verbose ("Backing up secret '{0}' from vault '{1}' into directory '{2}'." -f $Name, $VaultName, $directory) }
    }
    $request.force = [bool]$forceWrite

    if ($null -eq $State.Process) { Start-BackupChild -State $State }
    else { Update-AzToken -State $State }
    $requestId = $State.NextId
    $State.NextId = $requestId + 1
    $request.id = $requestId
    $entry = @{ Done = $false; Result = $null; ErrorRecord = $null; Target = $targetObject; VaultName = $VaultName; Name = $Name; SecretId = $secretId }
    $State.Pending[[string]$requestId] = $entry
    $State.Queue.Enqueue($entry)
    $State.Accepted++
    Send-ChildMessage -State $State -Message $request
    if ($State.SyncWatch.ElapsedMilliseconds -ge 20) {
        $State.SyncWatch.Restart()
        Sync-Output -State $State
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
    $text = 'Backed up {0} of {1} secret(s) in {2} s.' -f $State.Succeeded, $State.Completed, $State.Started.Elapsed.TotalSeconds.ToString('0.00', [System.Globalization.CultureInfo]::InvariantCulture)
    Write-Information -MessageData $text -Tags 'Az.KeyVault.Backup'
}

function Sync-Output {
    # Non-blocking: emit whatever is ready without waiting for the executable.
    param([hashtable]$State)
    if ($null -ne $State.Process) { Read-ChildStream -State $State }
    Write-ReadyEntry -State $State
    Write-BackupProgress -State $State
    if ($null -ne $State.Process) { Assert-ChildHealthy -State $State }
}

function Complete-BackupChild {
    # Normal end of the pipeline. 'end' goes out only after the last result: once it is sent,
    # closing stdin no longer means abort, so a stop during the wait could not cancel the work.
    param([hashtable]$State)
    $State.InputEnded = $true
    if ($null -ne $State.Process) {
        while ($State.Queue.Count -gt 0 -and -not $State.StdoutEof) {
            Read-ChildStream -State $State -TimeoutMs 100
            Write-ReadyEntry -State $State
            Write-BackupProgress -State $State
            if ($null -ne $State.Fatal) { $State.Cmdlet.ThrowTerminatingError($State.Fatal) }
        }
        Assert-ChildHealthy -State $State
        Send-ChildMessage -State $State -Message ([ordered]@{ type = 'end' })
        while ($null -eq $State.Bye -and -not $State.StdoutEof) {
            Read-ChildStream -State $State -TimeoutMs 100
            Write-ReadyEntry -State $State
            if ($null -ne $State.Fatal) { $State.Cmdlet.ThrowTerminatingError($State.Fatal) }
        }
        Write-ReadyEntry -State $State
        Assert-ChildHealthy -State $State
        if ($State.Queue.Count -gt 0) {
            $State.Cmdlet.ThrowTerminatingError((New-ErrorRecord -Message ('The az-keyvault-backup process finished without answering {0} request(s).' -f $State.Queue.Count) -ErrorId 'ProtocolError' -Category InvalidData -TargetObject $State.ExecutablePath))
        }
        # Drain stderr to its end so the last warnings are not lost.
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        while (-not $State.StderrEof -and $watch.ElapsedMilliseconds -lt 10000) {
            Read-ChildStream -State $State -TimeoutMs 100
        }
        $process = $State.Process
        while (-not $process.HasExited -and $watch.ElapsedMilliseconds -lt 10000) { [void]$process.WaitForExit(100) }
        if ($process.HasExited -and $process.ExitCode -ne 0) {
            Write-Verbose ('az-keyvault-backup exited with code {0}.' -f $process.ExitCode)
        }
    }
    Write-ReadyEntry -State $State
}

function Stop-BackupChild {
    # Abort: closing stdin without 'end' makes the executable cancel, remove its temporary files
    # and exit; Kill is only for a child that does not manage that in time.
    param([hashtable]$State)
    $process = $State.Process
    if ($null -eq $process) { return }
    $State.Process = $null
    try {
        if ($null -ne $State.Stdin) { try { $State.Stdin.Dispose() } catch { Write-Debug 'stdin already closed' } }
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        try {
            while (-not $process.HasExited -and $watch.ElapsedMilliseconds -lt $script:AbortGraceMs) { [void]$process.WaitForExit(100) }
            if ($process.HasExited) { Write-Debug ('az-keyvault-backup aborted in {0} ms, exit code {1}.' -f $watch.ElapsedMilliseconds, $process.ExitCode) }
            else { Write-Debug 'az-keyvault-backup did not end after stdin closed; killing it.'; $process.Kill(); [void]$process.WaitForExit(1000) }
        }
        catch { Write-Debug ('Ending the child: {0}' -f $_.Exception.Message) }
    }
    finally {
        Remove-LiveChild -State $State
        try { $process.Dispose() } catch { Write-Debug 'dispose failed' }
    }
}

function Remove-LiveChild {
    param([hashtable]$State)
    for ($i = $script:LiveChildren.Count - 1; $i -ge 0; $i--) {
        if ([object]::ReferenceEquals($script:LiveChildren[$i], $State)) { $script:LiveChildren.RemoveAt($i) }
    }
}

function Close-BackupChild {
    param([hashtable]$State)
    $process = $State.Process
    if ($null -eq $process) { return }
    $State.Process = $null
    Remove-LiveChild -State $State
    if (-not $process.HasExited) {
        try { $process.Kill() } catch { Write-Debug ('Ending the child: {0}' -f $_.Exception.Message) }
    }
    try { $process.Dispose() } catch { Write-Debug 'dispose failed' }
}

function Stop-StaleChild {
    # A child is stale when its pipeline can no longer reach its end block: stopped, or ended by a
    # terminating error elsewhere in it. PowerShell disposes such a pipeline's commands, which
    # clears their CommandRuntime. Live pipelines (a nested invocation's caller) are left alone.
    foreach ($state in @($script:LiveChildren.ToArray())) {
        $stale = $true
        try {
            $stale = $null -eq $state.Process -or $state.Process.HasExited -or $null -eq $state.Cmdlet.CommandRuntime -or $state.Cmdlet.Stopping
        }
        catch { $stale = $true }
        if ($stale) { Stop-BackupChild -State $state; Remove-LiveChild -State $state }
    }
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
    modules. The work is done by the az-keyvault-backup executable bundled with the module: one
    process per pipeline, which backs up piped secrets concurrently (see -ThrottleLimit) and writes
    each file atomically. Results come out in input order.

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
    per secret with its default name, several at a time, through one executable process. A secret
    that fails (for example a certificate-backed one) gives an error and the others go on.

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
        Stop-StaleChild
        $logLevel = 'warning'
        if ($DebugPreference -ne 'SilentlyContinue' -and $DebugPreference -ne 'Ignore') { $logLevel = 'debug' }
        elseif ($VerbosePreference -ne 'SilentlyContinue' -and $VerbosePreference -ne 'Ignore') { $logLevel = 'verbose' }
        $pipelineState = New-PipelineState -Cmdlet $PSCmdlet -ThrottleLimit $ThrottleLimit -LogLevel $logLevel -DefaultProfile $DefaultProfile
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
                Stop-BackupChild -State $pipelineState
            }
        }
    }

    end {
        $finished = $false
        try {
            Complete-BackupChild -State $pipelineState
            $finished = $true
            Write-BackupSummary -State $pipelineState
        }
        finally {
            Write-BackupProgress -State $pipelineState -Done
            if ($finished) { Close-BackupChild -State $pipelineState }
            else { Stop-BackupChild -State $pipelineState }
        }
    }
}

function Stop-UnfinishedChild {
    # The clean block's work (PowerShell 7.3+), which runs however the pipeline ended: also when it
    # was stopped or failed while an upstream command ran, when neither our process block's finally
    # nor our end block runs. After a normal end the child is already closed and this does nothing.
    param($State)
    if ($null -eq $State -or $State -isnot [hashtable] -or $null -eq $State.Process) { return }
    try { Write-BackupProgress -State $State -Done } catch { Write-Debug 'progress not completed' }
    Stop-BackupChild -State $State
}

# 'clean' only parses on PowerShell 7.3 and later, and this file must parse on 5.1: so on 7.3+
# the function is defined again from its own text with a clean block added. The text is the one
# above (help included), and it is dot-sourced here, so it binds to this module's session state.
# Older versions rely on Stop-StaleChild and OnRemove instead.
if ($PSVersionTable.PSVersion -ge [version]'7.3') {
    $backupFunctionAst = ${function:Backup-AzKeyVaultSecret}.Ast
    $backupFunctionText = $backupFunctionAst.Extent.Text
    # The body's closing brace: the clean block goes just before it, after end.
    $cleanAt = $backupFunctionAst.Body.Extent.EndOffset - 1 - $backupFunctionAst.Extent.StartOffset
    $cleanBlock = "`n    clean {`n        Stop-UnfinishedChild -State (Get-Variable -Name pipelineState -Scope 0 -ValueOnly -ErrorAction Ignore)`n    }`n"
    . ([scriptblock]::Create($backupFunctionText.Substring(0, $cleanAt) + $cleanBlock + $backupFunctionText.Substring($cleanAt)))
    Remove-Variable -Name backupFunctionAst, backupFunctionText, cleanAt, cleanBlock
}

$ExecutionContext.SessionState.Module.OnRemove = {
    foreach ($state in @($script:LiveChildren.ToArray())) { Stop-BackupChild -State $state }
}

Export-ModuleMember -Function Backup-AzKeyVaultSecret
