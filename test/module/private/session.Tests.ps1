# src/module/private/session.ps1: the settings a session executable is started with, read from the
# environment, and the fingerprint that says when the environment changed under it.

BeforeAll {
    Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', '..', '..', 'Az.KeyVault.Backup.psd1')) -Force

    # Get-SessionIdleSeconds reports a bad setting through the calling cmdlet.
    function Get-IdleSeconds {
        InModuleScope Az.KeyVault.Backup {
            function Invoke-GetSessionIdleSeconds { [CmdletBinding()] param() Get-SessionIdleSeconds -Cmdlet $PSCmdlet }
            Invoke-GetSessionIdleSeconds
        }
    }
    function Get-Fingerprint { InModuleScope Az.KeyVault.Backup { Get-EnvironmentFingerprint } }
}

Describe 'Get-SessionIdleSeconds' {
    BeforeEach { $script:Saved = $env:AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS }
    AfterEach { $env:AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS = $script:Saved }

    It 'is 300 seconds when AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS is not set' {
        $env:AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS = $null
        Get-IdleSeconds | Should -Be 300
    }

    It "reads '<Text>' as <Seconds> seconds" -ForEach @(
        @{ Text = '0'; Seconds = 0 }
        @{ Text = '1'; Seconds = 1 }
        @{ Text = '45'; Seconds = 45 }
        @{ Text = '007'; Seconds = 7 }
        @{ Text = '86400'; Seconds = 86400 }
    ) {
        $env:AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS = $Text
        $got = Get-IdleSeconds
        $got | Should -BeOfType [int]
        $got | Should -Be $Seconds
    }

    It "refuses '<Text>' with InvalidSessionSetting" -ForEach @(
        @{ Text = '86401' }
        @{ Text = '-1' }
        @{ Text = '+5' }
        @{ Text = '1.5' }
        @{ Text = '1e3' }
        @{ Text = ' 5' }
        @{ Text = '5 ' }
        @{ Text = '0x10' }
        @{ Text = '1,000' }
        @{ Text = 'abc' }
        @{ Text = '99999999999' }
        # Arabic-Indic digits: digits to Unicode, not to the invariant culture.
        @{ Text = '٣' }
    ) {
        $env:AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS = $Text
        { Get-IdleSeconds } | Should -Throw -ErrorId 'InvalidSessionSetting,Invoke-GetSessionIdleSeconds'
    }

    It 'names the bad value as the error target, with category InvalidArgument' {
        $env:AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS = 'soon'
        $record = $null
        try { Get-IdleSeconds } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -BeLike 'InvalidSessionSetting*'
        $record.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidArgument)
        $record.TargetObject | Should -BeExactly 'soon'
    }
}

Describe 'Get-EnvironmentFingerprint' {
    BeforeEach {
        $script:Saved = @{}
        foreach ($savedName in 'AZKVB_TEST_FINGERPRINT', 'AZKVB_TEST_FINGERPRINT_2', 'AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS', 'PWD', 'OLDPWD', '_') { $script:Saved[$savedName] = [System.Environment]::GetEnvironmentVariable($savedName) }
        [System.Environment]::SetEnvironmentVariable('AZKVB_TEST_FINGERPRINT', 'one')
        Push-Location -LiteralPath $TestDrive
    }
    AfterEach {
        Pop-Location
        foreach ($savedName in $script:Saved.Keys) { [System.Environment]::SetEnvironmentVariable($savedName, $script:Saved[$savedName]) }
    }

    It 'is the same while nothing changes' {
        Get-Fingerprint | Should -BeExactly (Get-Fingerprint)
    }

    It 'changes when a variable changes its value' {
        $before = Get-Fingerprint
        [System.Environment]::SetEnvironmentVariable('AZKVB_TEST_FINGERPRINT', 'two')
        Get-Fingerprint | Should -Not -BeExactly $before
    }

    It 'changes when a variable changes only the case of its value' {
        $before = Get-Fingerprint
        [System.Environment]::SetEnvironmentVariable('AZKVB_TEST_FINGERPRINT', 'ONE')
        Get-Fingerprint | Should -Not -BeExactly $before
    }

    It 'changes when a variable is added, and again when it is removed' {
        $before = Get-Fingerprint
        [System.Environment]::SetEnvironmentVariable('AZKVB_TEST_FINGERPRINT_2', 'x')
        $added = Get-Fingerprint
        $added | Should -Not -BeExactly $before
        [System.Environment]::SetEnvironmentVariable('AZKVB_TEST_FINGERPRINT_2', $null)
        $removed = Get-Fingerprint
        $removed | Should -Not -BeExactly $added
        $removed | Should -BeExactly $before
    }

    It 'changes when two variables swap their values' {
        [System.Environment]::SetEnvironmentVariable('AZKVB_TEST_FINGERPRINT_2', 'two')
        $before = Get-Fingerprint
        [System.Environment]::SetEnvironmentVariable('AZKVB_TEST_FINGERPRINT', 'two')
        [System.Environment]::SetEnvironmentVariable('AZKVB_TEST_FINGERPRINT_2', 'one')
        Get-Fingerprint | Should -Not -BeExactly $before
    }

    It 'changes when the session idle setting changes' {
        $before = Get-Fingerprint
        [System.Environment]::SetEnvironmentVariable('AZ_KEYVAULT_BACKUP_SESSION_IDLE_SECONDS', '17')
        Get-Fingerprint | Should -Not -BeExactly $before
    }

    It 'is the same after Set-Location' {
        $before = Get-Fingerprint
        Set-Location -LiteralPath ([System.IO.Path]::GetTempPath())
        Get-Fingerprint | Should -BeExactly $before
    }

    It 'ignores the shell-maintained <Variable>' -ForEach @(@{ Variable = 'PWD' }, @{ Variable = 'OLDPWD' }, @{ Variable = '_' }) {
        [System.Environment]::SetEnvironmentVariable($Variable, '/somewhere')
        $before = Get-Fingerprint
        [System.Environment]::SetEnvironmentVariable($Variable, '/somewhere/else')
        Get-Fingerprint | Should -BeExactly $before
    }
}
