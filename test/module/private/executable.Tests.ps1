# src/module/private/executable.ps1: which executable this computer runs, where it sits, and how its
# arguments are written. Run alone: see docs/architecture.md (Tests).

BeforeAll {
    Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', '..', '..', 'Az.KeyVault.Backup.psd1')) -Force

    # The Microsoft C runtime's split of a command line into argv (after the program name), written
    # from its documented rules, independently of the function under test: whitespace separates
    # outside quotes; 2n backslashes and a quote are n backslashes and a quote that opens or closes;
    # 2n+1 backslashes and a quote are n backslashes and a literal quote; other backslashes are literal.
    function Split-WindowsCommandLine([string]$Line) {
        $argv = [System.Collections.Generic.List[string]]::new()
        $current = [System.Text.StringBuilder]::new()
        $inArgument = $false
        $quoted = $false
        $i = 0
        while ($i -lt $Line.Length) {
            $c = $Line[$i]
            if (-not $quoted -and ($c -eq ' ' -or $c -eq "`t")) {
                if ($inArgument) { $argv.Add($current.ToString()); [void]$current.Clear(); $inArgument = $false }
                $i++
                continue
            }
            $inArgument = $true
            if ($c -eq '\') {
                $run = 0
                while ($i -lt $Line.Length -and $Line[$i] -eq '\') { $run++; $i++ }
                if ($i -lt $Line.Length -and $Line[$i] -eq '"') {
                    [void]$current.Append('\', [math]::Floor($run / 2))
                    if ($run % 2 -eq 1) { [void]$current.Append('"'); $i++ }
                }
                else { [void]$current.Append('\', $run) }
                continue
            }
            if ($c -eq '"') { $quoted = -not $quoted; $i++; continue }
            [void]$current.Append($c)
            $i++
        }
        if ($inArgument) { $argv.Add($current.ToString()) }
        return $argv.ToArray()
    }
}

Describe 'Get-RuntimeIdentifier' {
    # Every platform and architecture name the module can meet: RuntimeInformation's enum names on
    # PowerShell 7, PROCESSOR_ARCHITECTURE's values on Windows PowerShell 5.1, and a few spellings.
    It 'maps <Platform>/<Architecture> to <Rid>' -ForEach @(
        @{ Platform = 'Windows'; Architecture = 'X64'; Rid = 'win-x64' }
        @{ Platform = 'Windows'; Architecture = 'AMD64'; Rid = 'win-x64' }
        # Windows on Arm: the x64 build under emulation.
        @{ Platform = 'Windows'; Architecture = 'Arm64'; Rid = 'win-x64' }
        @{ Platform = 'Windows'; Architecture = 'ARM64'; Rid = 'win-x64' }
        @{ Platform = 'Linux'; Architecture = 'X64'; Rid = 'linux-x64' }
        @{ Platform = 'Linux'; Architecture = 'Arm64'; Rid = 'linux-arm64' }
        @{ Platform = 'OSX'; Architecture = 'X64'; Rid = 'darwin-x64' }
        @{ Platform = 'OSX'; Architecture = 'Arm64'; Rid = 'darwin-arm64' }
    ) {
        $got = InModuleScope Az.KeyVault.Backup -Parameters $_ { Get-RuntimeIdentifier -Platform $Platform -Architecture $Architecture }
        $got | Should -BeExactly $Rid
    }

    It "has no executable for '<Platform>/<Architecture>', where nothing is shipped" -ForEach @(
        @{ Platform = 'Windows'; Architecture = 'X86' }
        @{ Platform = 'Windows'; Architecture = 'Arm' }
        @{ Platform = 'Linux'; Architecture = 'Arm' }
        @{ Platform = 'Linux'; Architecture = 'X86' }
        @{ Platform = 'Linux'; Architecture = 'S390x' }
        @{ Platform = 'Linux'; Architecture = 'LoongArch64' }
        @{ Platform = 'Linux'; Architecture = 'RiscV64' }
        @{ Platform = 'FreeBSD'; Architecture = 'X64' }
        @{ Platform = 'Unknown'; Architecture = 'X64' }
        @{ Platform = ''; Architecture = '' }
    ) {
        $got = InModuleScope Az.KeyVault.Backup -Parameters $_ { Get-RuntimeIdentifier -Platform $Platform -Architecture $Architecture }
        $got | Should -Be $null
    }
}

Describe 'ConvertTo-HostPlatform' {
    # What the module sees on each host: the edition, the platform PowerShell 7 detects,
    # RuntimeInformation.OSArchitecture (absent on .NET Framework before 4.7.1) and the Windows
    # environment's PROCESSOR_ARCHITECTURE / PROCESSOR_ARCHITEW6432.
    It 'sees <Label> as <Rid>' -ForEach @(
        @{ Label = '5.1, .NET 4.8, 64-bit'; Edition = 'Desktop'; Core = ''; OSArch = 'X64'; PA = 'AMD64'; W6432 = ''; Rid = 'win-x64' }
        @{ Label = '5.1, .NET 4.6, 64-bit'; Edition = 'Desktop'; Core = ''; OSArch = ''; PA = 'AMD64'; W6432 = ''; Rid = 'win-x64' }
        @{ Label = '5.1, .NET 4.6, 32-bit PowerShell on 64-bit Windows'; Edition = 'Desktop'; Core = ''; OSArch = ''; PA = 'x86'; W6432 = 'AMD64'; Rid = 'win-x64' }
        @{ Label = '5.1, .NET 4.6, Windows on Arm'; Edition = 'Desktop'; Core = ''; OSArch = ''; PA = 'ARM64'; W6432 = ''; Rid = 'win-x64' }
        @{ Label = '7.x on Windows x64'; Edition = 'Core'; Core = 'Windows'; OSArch = 'X64'; PA = 'AMD64'; W6432 = ''; Rid = 'win-x64' }
        @{ Label = '7.x on Linux arm64'; Edition = 'Core'; Core = 'Linux'; OSArch = 'Arm64'; PA = ''; W6432 = ''; Rid = 'linux-arm64' }
        @{ Label = '7.x on macOS arm64'; Edition = 'Core'; Core = 'OSX'; OSArch = 'Arm64'; PA = ''; W6432 = ''; Rid = 'darwin-arm64' }
    ) {
        $got = InModuleScope Az.KeyVault.Backup -Parameters $_ {
            $seen = ConvertTo-HostPlatform -Edition $Edition -CorePlatform $Core -OSArchitecture $OSArch -ProcessorArchitecture $PA -ProcessorArchiteW6432 $W6432
            Get-RuntimeIdentifier -Platform $seen.Platform -Architecture $seen.Architecture
        }
        $got | Should -BeExactly $Rid
    }

    It 'finds no executable for <Label>' -ForEach @(
        @{ Label = '5.1, .NET 4.6, 32-bit Windows'; Edition = 'Desktop'; Core = ''; OSArch = ''; PA = 'x86'; W6432 = '' }
        @{ Label = '7.x on an OS it does not know'; Edition = 'Core'; Core = ''; OSArch = 'X64'; PA = ''; W6432 = '' }
    ) {
        $got = InModuleScope Az.KeyVault.Backup -Parameters $_ {
            $seen = ConvertTo-HostPlatform -Edition $Edition -CorePlatform $Core -OSArchitecture $OSArch -ProcessorArchitecture $PA -ProcessorArchiteW6432 $W6432
            Get-RuntimeIdentifier -Platform $seen.Platform -Architecture $seen.Architecture
        }
        $got | Should -Be $null
    }

    It 'takes Windows PowerShell 5.1 (Desktop) to be on Windows whatever platform it is told' {
        $seen = InModuleScope Az.KeyVault.Backup { ConvertTo-HostPlatform -Edition 'Desktop' -CorePlatform 'Linux' -OSArchitecture 'X64' }
        $seen.Platform | Should -BeExactly 'Windows'
    }

    It 'calls a PowerShell 7 platform it cannot name Unknown' {
        $seen = InModuleScope Az.KeyVault.Backup { ConvertTo-HostPlatform -Edition 'Core' -CorePlatform '' -OSArchitecture 'X64' }
        $seen.Platform | Should -BeExactly 'Unknown'
    }

    It 'prefers the OS architecture, then PROCESSOR_ARCHITEW6432, then PROCESSOR_ARCHITECTURE' {
        $got = InModuleScope Az.KeyVault.Backup {
            (ConvertTo-HostPlatform -Edition 'Desktop' -OSArchitecture 'Arm64' -ProcessorArchitecture 'x86' -ProcessorArchiteW6432 'AMD64').Architecture
            (ConvertTo-HostPlatform -Edition 'Desktop' -OSArchitecture '' -ProcessorArchitecture 'x86' -ProcessorArchiteW6432 'AMD64').Architecture
            (ConvertTo-HostPlatform -Edition 'Desktop' -OSArchitecture '' -ProcessorArchitecture 'x86' -ProcessorArchiteW6432 '').Architecture
        }
        $got | Should -BeExactly @('Arm64', 'AMD64', 'x86')
    }

    It 'gives an empty architecture, not null, when nothing names one' {
        $seen = InModuleScope Az.KeyVault.Backup { ConvertTo-HostPlatform -Edition 'Core' -CorePlatform 'Linux' }
        $seen.Architecture | Should -BeOfType [string]
        $seen.Architecture | Should -BeExactly ''
    }
}

Describe 'Get-HostPlatform' {
    # The expected answer comes from outside PowerShell: test/pwsh/pester.test.ts passes the runtime
    # id the build produced for this machine. Run without it (Pester alone), the test is skipped.
    It 'detects this machine as the runtime id the build produced for it' -Skip:(-not $env:AZKVB_EXPECTED_RID) {
        $got = InModuleScope Az.KeyVault.Backup {
            $h = Get-HostPlatform
            [pscustomobject]@{ Platform = $h.Platform; Rid = (Get-RuntimeIdentifier -Platform $h.Platform -Architecture $h.Architecture) }
        }
        $got.Rid | Should -BeExactly $env:AZKVB_EXPECTED_RID
        $got.Platform | Should -BeExactly $env:AZKVB_EXPECTED_PLATFORM
    }
}

Describe 'Get-ExecutablePath' {
    It 'looks for <Rid> in bin/<Rid>/<Name> under the module folder' -ForEach @(
        @{ Rid = 'win-x64'; Name = 'az-keyvault-backup.exe' }
        @{ Rid = 'linux-x64'; Name = 'az-keyvault-backup' }
        @{ Rid = 'linux-arm64'; Name = 'az-keyvault-backup' }
        @{ Rid = 'darwin-x64'; Name = 'az-keyvault-backup' }
        @{ Rid = 'darwin-arm64'; Name = 'az-keyvault-backup' }
    ) {
        $got = InModuleScope Az.KeyVault.Backup -Parameters $_ { Get-ExecutablePath -RuntimeIdentifier $Rid -ModuleBase '/m' }
        $got | Should -BeExactly ([System.IO.Path]::Combine('/m', 'bin', $Rid, $Name))
    }

    It "uses the loaded module's own folder when no module folder is given" {
        $module = Get-Module Az.KeyVault.Backup
        $got = InModuleScope Az.KeyVault.Backup { Get-ExecutablePath -RuntimeIdentifier 'linux-x64' }
        $got | Should -BeExactly ([System.IO.Path]::Combine($module.ModuleBase, 'bin', 'linux-x64', 'az-keyvault-backup'))
    }
}

Describe 'Get-ServeArgumentList' {
    It "is 'serve' alone when no setting is given" {
        $got = InModuleScope Az.KeyVault.Backup { Get-ServeArgumentList -Values ([ordered]@{}) }
        # One array, not a lone string that a caller would enumerate character by character.
        , $got | Should -BeOfType [string[]]
        $got | Should -BeExactly @('serve')
    }

    It "writes each setting as its switch and value, in the table's order whatever the order given" {
        $got = InModuleScope Az.KeyVault.Backup { Get-ServeArgumentList -Values ([ordered]@{ IdleSeconds = 300; LogLevel = 'debug' }) }
        $got | Should -BeExactly @('serve', '--log-level', 'debug', '--idle-timeout-seconds', '300')
    }

    It 'leaves out a setting whose value is null' {
        $got = InModuleScope Az.KeyVault.Backup { Get-ServeArgumentList -Values @{ LogLevel = $null; IdleSeconds = 0 } }
        $got | Should -BeExactly @('serve', '--idle-timeout-seconds', '0')
    }

    It 'never turns a name outside the table into an argument' {
        $got = InModuleScope Az.KeyVault.Backup { Get-ServeArgumentList -Values @{ Token = 'secret'; '--inject' = 'x'; LogLevel = 'warning' } }
        $got | Should -BeExactly @('serve', '--log-level', 'warning')
    }

    It 'keeps a value that looks like a switch as one argument, the value of its own switch' {
        $got = InModuleScope Az.KeyVault.Backup { Get-ServeArgumentList -Values @{ LogLevel = '--idle-timeout-seconds 1' } }
        $got | Should -BeExactly @('serve', '--log-level', '--idle-timeout-seconds 1')
    }
}

Describe 'ConvertTo-WindowsArgument' {
    It 'writes <Label>: <Quoted>' -ForEach @(
        @{ Label = 'a plain word as itself'; Value = 'plain'; Quoted = 'plain' }
        @{ Label = 'the empty string as a pair of quotes'; Value = ''; Quoted = '""' }
        @{ Label = 'a value with a space in quotes'; Value = 'two words'; Quoted = '"two words"' }
        @{ Label = 'a value with a tab in quotes'; Value = "tab`there"; Quoted = "`"tab`there`"" }
        @{ Label = 'inner quotes escaped with a backslash'; Value = 'say "hi"'; Quoted = '"say \"hi\""' }
        @{ Label = 'a lone quote'; Value = '"'; Quoted = '"\""' }
        @{ Label = 'backslashes before a quote doubled, plus one for the quote'; Value = 'a\\"b'; Quoted = '"a\\\\\"b"' }
        @{ Label = 'a trailing backslash of a quoted value doubled'; Value = 'C:\dir with space\'; Quoted = '"C:\dir with space\\"' }
        @{ Label = 'a trailing backslash of an unquoted value as itself'; Value = 'C:\dir\'; Quoted = 'C:\dir\' }
        @{ Label = 'a lone backslash as itself'; Value = '\'; Quoted = '\' }
        @{ Label = 'a UNC path as itself'; Value = '\\server\share'; Quoted = '\\server\share' }
        @{ Label = 'backslashes not before a quote as they are, inside quotes'; Value = 'a\b c\\d'; Quoted = '"a\b c\\d"' }
    ) {
        $got = InModuleScope Az.KeyVault.Backup -Parameters $_ { ConvertTo-WindowsArgument -Value $Value }
        $got | Should -BeExactly $Quoted
    }

    It 'gives back every argument exactly when the C runtime splits the joined command line' {
        $values = @('plain', 'two words', '', 'say "hi"', 'C:\dir\', 'C:\dir with space\', 'a\\"b', '\\server\share', "tab`there", '"', '\', 'end\\', ' ', '\"', 'ünïcödé 名前', "line`nbreak")
        $line = InModuleScope Az.KeyVault.Backup -Parameters @{ Values = $values } { @($Values | ForEach-Object { ConvertTo-WindowsArgument -Value $_ }) -join ' ' }
        Split-WindowsCommandLine $line | Should -BeExactly $values
    }
}
