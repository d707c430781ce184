# src/module/private/errors.ps1: the module's ErrorRecords, and the executable's category names
# turned into ErrorCategory values.

BeforeAll {
    Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', '..', '..', 'Az.KeyVault.Backup.psd1')) -Force
}

Describe 'New-ErrorRecord' {
    It 'makes an ErrorRecord with the id, category, target and message given' {
        $target = [pscustomobject]@{ Name = 's1' }
        $record = InModuleScope Az.KeyVault.Backup -Parameters @{ Target = $target } { New-ErrorRecord -Message 'what went wrong' -ErrorId 'SomeFailure' -Category ResourceUnavailable -TargetObject $Target }
        $record | Should -BeOfType [System.Management.Automation.ErrorRecord]
        $record.FullyQualifiedErrorId | Should -BeExactly 'SomeFailure'
        $record.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ResourceUnavailable)
        [object]::ReferenceEquals($record.TargetObject, $target) | Should -BeTrue
        $record.Exception | Should -BeOfType [System.InvalidOperationException]
        $record.Exception.Message | Should -BeExactly 'what went wrong'
    }

    It 'has no inner exception unless one is given' {
        $record = InModuleScope Az.KeyVault.Backup { New-ErrorRecord -Message 'm' -ErrorId 'E' -Category NotSpecified }
        $record.Exception.InnerException | Should -Be $null
        $record.TargetObject | Should -Be $null
    }

    It 'keeps the inner exception it is given' {
        $inner = [System.IO.IOException]::new('disk')
        $record = InModuleScope Az.KeyVault.Backup -Parameters @{ Inner = $inner } { New-ErrorRecord -Message 'm' -ErrorId 'E' -Category WriteError -InnerException $Inner }
        [object]::ReferenceEquals($record.Exception.InnerException, $inner) | Should -BeTrue
    }

    It "is thrown by a cmdlet's ThrowTerminatingError with its id qualified by the cmdlet's name" {
        {
            InModuleScope Az.KeyVault.Backup {
                function Invoke-Failing { [CmdletBinding()] param() $PSCmdlet.ThrowTerminatingError((New-ErrorRecord -Message 'm' -ErrorId 'SomeFailure' -Category InvalidData)) }
                Invoke-Failing
            }
        } | Should -Throw -ErrorId 'SomeFailure,Invoke-Failing'
    }
}

Describe 'ConvertTo-ErrorCategory' {
    It "turns the name '<Name>' into <Category>" -ForEach @(
        @{ Name = 'ObjectNotFound'; Category = 'ObjectNotFound' }
        @{ Name = 'PermissionDenied'; Category = 'PermissionDenied' }
        @{ Name = 'ResourceExists'; Category = 'ResourceExists' }
        @{ Name = 'objectnotfound'; Category = 'ObjectNotFound' }
        @{ Name = 'NotSpecified'; Category = 'NotSpecified' }
    ) {
        $got = InModuleScope Az.KeyVault.Backup -Parameters $_ { ConvertTo-ErrorCategory -Name $Name }
        $got | Should -BeOfType [System.Management.Automation.ErrorCategory]
        $got | Should -Be ([System.Management.Automation.ErrorCategory]$Category)
    }

    It "makes a name it does not know, '<Name>', NotSpecified rather than failing" -ForEach @(
        @{ Name = 'NoSuchCategory' }
        @{ Name = 'Object Not Found' }
        @{ Name = '999' }
        @{ Name = '' }
        @{ Name = $null }
    ) {
        $got = InModuleScope Az.KeyVault.Backup -Parameters $_ { ConvertTo-ErrorCategory -Name $Name }
        $got | Should -BeOfType [System.Management.Automation.ErrorCategory]
        $got | Should -Be ([System.Management.Automation.ErrorCategory]::NotSpecified)
    }
}
