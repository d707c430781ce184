# src/module/private/pipeline-state.ps1: the state one call of a Backup or Restore cmdlet starts with.

BeforeAll {
    Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', '..', '..', 'Az.KeyVault.Backup.psd1')) -Force
}

Describe 'New-PipelineState' {
    It "turns debug text <Debug> and verbose text <Verbose> at log level '<Level>'" -ForEach @(
        @{ Level = 'debug'; Debug = 'on'; Verbose = 'on' }
        @{ Level = 'verbose'; Debug = 'off'; Verbose = 'on' }
        @{ Level = 'warning'; Debug = 'off'; Verbose = 'off' }
    ) {
        $state = InModuleScope Az.KeyVault.Backup -Parameters @{ Level = $Level } { New-PipelineState -Cmdlet $null -ThrottleLimit 4 -LogLevel $Level }
        $state.LogLevel | Should -BeExactly $Level
        $state.DebugOn | Should -Be ($Debug -eq 'on')
        $state.VerboseOn | Should -Be ($Verbose -eq 'on')
    }

    It 'keeps the cmdlet, the throttle limit and the profile it is given' {
        $cmdlet = [pscustomobject]@{ Kind = 'cmdlet' }
        $azProfile = [pscustomobject]@{ Kind = 'profile' }
        $state = InModuleScope Az.KeyVault.Backup -Parameters @{ Cmdlet = $cmdlet; AzProfile = $azProfile } { New-PipelineState -Cmdlet $Cmdlet -ThrottleLimit 7 -LogLevel 'warning' -DefaultProfile $AzProfile }
        [object]::ReferenceEquals($state.Cmdlet, $cmdlet) | Should -BeTrue
        [object]::ReferenceEquals($state.DefaultProfile, $azProfile) | Should -BeTrue
        $state.ThrottleLimit | Should -Be 7
    }

    It 'starts with no session, no items and nothing resolved' {
        $state = InModuleScope Az.KeyVault.Backup { New-PipelineState -Cmdlet $null -ThrottleLimit 1 -LogLevel 'warning' }
        $state.Session | Should -Be $null
        $state.Id | Should -Be $null
        $state.Context | Should -BeExactly ''
        $state.Queue.Count | Should -Be 0
        $state.Targets.Count | Should -Be 0
        $state.ResolvedTarget | Should -Be $null
        $state.Accepted, $state.Completed, $state.Succeeded, $state.LoggedSeen | Should -Be @(0, 0, 0, 0)
        $state.Cancelled, $state.Quiet, $state.InputEnded, $state.YesToAll, $state.NoToAll | Should -Be @($false, $false, $false, $false, $false)
    }

    It "gives each pipeline its own queue and targets" {
        $states = InModuleScope Az.KeyVault.Backup { (New-PipelineState -LogLevel 'warning'), (New-PipelineState -LogLevel 'warning') }
        $states[0].Queue.Enqueue('x')
        $states[0].Targets['/a'] = 1
        $states[1].Queue.Count | Should -Be 0
        $states[1].Targets.Count | Should -Be 0
    }

    It 'counts two paths as one target exactly when this platform counts them as one file' {
        $state = InModuleScope Az.KeyVault.Backup { New-PipelineState -LogLevel 'warning' }
        $state.Targets['/out/a.blob'] = 1
        $ignoresCase = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
        $state.Targets.ContainsKey('/out/A.blob') | Should -Be $ignoresCase
        $state.Targets.ContainsKey('/out/a.blob') | Should -BeTrue
    }

    It "names a <Operation> of <Kind>s: the ShouldProcess action '<Action>', the progress activity <Activity>, the type name" -ForEach @(
        @{ Operation = 'backup'; Kind = 'secret'; Action = 'Backup secret'; Activity = 'Backup-AzKeyVaultSecret'; TypeName = 'Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultSecret'; Done = 'backed up' }
        @{ Operation = 'backup'; Kind = 'key'; Action = 'Backup key'; Activity = 'Backup-AzKeyVaultKey'; TypeName = 'Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultKey'; Done = 'backed up' }
        @{ Operation = 'backup'; Kind = 'certificate'; Action = 'Backup certificate'; Activity = 'Backup-AzKeyVaultCertificate'; TypeName = 'Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultCertificate'; Done = 'backed up' }
        @{ Operation = 'restore'; Kind = 'secret'; Action = 'Restore secret'; Activity = 'Restore-AzKeyVaultSecret'; TypeName = 'Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultSecret'; Done = 'restored' }
        @{ Operation = 'restore'; Kind = 'key'; Action = 'Restore key'; Activity = 'Restore-AzKeyVaultKey'; TypeName = 'Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultKey'; Done = 'restored' }
        @{ Operation = 'restore'; Kind = 'certificate'; Action = 'Restore certificate'; Activity = 'Restore-AzKeyVaultCertificate'; TypeName = 'Microsoft.Azure.Commands.KeyVault.Models.PSKeyVaultCertificate'; Done = 'restored' }
    ) {
        $state = InModuleScope Az.KeyVault.Backup -Parameters $_ { New-PipelineState -Operation $Operation -Kind $Kind -LogLevel 'warning' }
        $state.Operation | Should -BeExactly $Operation
        $state.Kind | Should -BeExactly $Kind
        $state.Action | Should -BeExactly $Action
        $state.Activity | Should -BeExactly $Activity
        $state.TypeName | Should -BeExactly $TypeName
        $state.Done | Should -BeExactly $Done
    }

    It 'is a backup of secrets when no operation or kind is named' {
        $state = InModuleScope Az.KeyVault.Backup { New-PipelineState -LogLevel 'warning' }
        $state.Operation | Should -BeExactly 'backup'
        $state.Kind | Should -BeExactly 'secret'
    }

    It 'refuses <Label>' -ForEach @(
        @{ Label = 'an unknown kind'; Operation = 'backup'; Kind = 'blob' }
        @{ Label = 'an unknown operation'; Operation = 'purge'; Kind = 'secret' }
    ) {
        { InModuleScope Az.KeyVault.Backup -Parameters $_ { New-PipelineState -Operation $Operation -Kind $Kind -LogLevel 'warning' } } | Should -Throw
    }
}
