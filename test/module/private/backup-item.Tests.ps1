# src/module/private/backup-item.ps1: which vault or Managed HSM and item each parameter set of the
# Backup cmdlets names, and the 'backup' line's fields (vaultName or hsmName, never both).

BeforeAll {
    Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', '..', '..', 'Az.KeyVault.Backup.psd1')) -Force

    # One item through Invoke-BackupItem from an advanced function (a real $PSCmdlet), the line it
    # would send captured instead. Returns @{ Sent = @(@{ Type; Fields; Target }); Queue }.
    function Invoke-Backup([string]$Kind, [hashtable]$Arguments) {
        InModuleScope Az.KeyVault.Backup -Parameters @{ Kind = $Kind; Arguments = $Arguments } {
            $script:TestSent = [System.Collections.Generic.List[object]]::new()
            Mock Send-ItemRequest { $script:TestSent.Add(@{ Type = $Type; Fields = $Fields; Target = $Target }); 1 }
            Mock Sync-Output { }
            function Invoke-BackupHere {
                [CmdletBinding(SupportsShouldProcess)]
                param([string]$Kind, [hashtable]$Arguments)
                $state = New-PipelineState -Cmdlet $PSCmdlet -Operation 'backup' -Kind $Kind -ThrottleLimit 4 -LogLevel 'warning'
                Invoke-BackupItem -State $state @Arguments
                $state
            }
            $state = Invoke-BackupHere -Kind $Kind -Arguments $Arguments
            @{ Sent = @($script:TestSent); Queue = @($state.Queue) }
        }
    }
}

Describe 'Invoke-BackupItem' {
    It 'sends <Expected> for <Label>' -ForEach @(
        @{ Label = 'a secret by name'; Kind = 'secret'; Arguments = @{ ParameterSetName = 'BySecretName'; VaultName = 'v1'; Name = 's1' }; Expected = ',"vaultName":"v1","name":"s1"' }
        @{ Label = 'a secret object'; Kind = 'secret'; Arguments = @{ ParameterSetName = 'BySecret'; InputObject = [pscustomobject]@{ VaultName = 'v1'; Name = 's1' } }; Expected = ',"vaultName":"v1","name":"s1"' }
        @{ Label = 'a secret URI'; Kind = 'secret'; Arguments = @{ ParameterSetName = 'BySecretUri'; Id = 'https://v1.vault.azure.net/secrets/s1' }; Expected = ',"secretId":"https://v1.vault.azure.net/secrets/s1"' }
        @{ Label = 'a key by name'; Kind = 'key'; Arguments = @{ ParameterSetName = 'ByKeyName'; VaultName = 'v1'; Name = 'k1' }; Expected = ',"vaultName":"v1","name":"k1"' }
        @{ Label = 'a key of a Managed HSM by name'; Kind = 'key'; Arguments = @{ ParameterSetName = 'HsmByKeyName'; HsmName = 'h1'; Name = 'k1' }; Expected = ',"hsmName":"h1","name":"k1"' }
        @{ Label = 'a key object of a vault'; Kind = 'key'; Arguments = @{ ParameterSetName = 'ByKey'; InputObject = [pscustomobject]@{ VaultName = 'v1'; Name = 'k1'; IsHsm = $false } }; Expected = ',"vaultName":"v1","name":"k1"' }
        @{ Label = 'a key object with IsHsm true'; Kind = 'key'; Arguments = @{ ParameterSetName = 'ByKey'; InputObject = [pscustomobject]@{ VaultName = 'h1'; Name = 'k1'; IsHsm = $true } }; Expected = ',"hsmName":"h1","name":"k1"' }
        @{ Label = 'a key dictionary with IsHsm true'; Kind = 'key'; Arguments = @{ ParameterSetName = 'ByKey'; InputObject = @{ VaultName = 'h1'; Name = 'k1'; IsHsm = $true } }; Expected = ',"hsmName":"h1","name":"k1"' }
        @{ Label = 'a certificate by name'; Kind = 'certificate'; Arguments = @{ ParameterSetName = 'ByCertificateName'; VaultName = 'v1'; Name = 'c1' }; Expected = ',"vaultName":"v1","name":"c1"' }
        @{ Label = 'a certificate object'; Kind = 'certificate'; Arguments = @{ ParameterSetName = 'ByCertificate'; InputObject = [pscustomobject]@{ VaultName = 'v1'; Name = 'c1'; Thumbprint = 'AB' } }; Expected = ',"vaultName":"v1","name":"c1"' }
    ) {
        $arguments = $Arguments.Clone()
        $arguments.OutputFile = '/out/'
        Mock -ModuleName Az.KeyVault.Backup Resolve-OutputFile { @{ Path = '/out'; IsDirectory = $true } }
        $r = Invoke-Backup $Kind $arguments
        $r.Queue.Count | Should -Be 0
        $r.Sent.Count | Should -Be 1
        $r.Sent[0].Type | Should -BeExactly 'backup'
        $r.Sent[0].Fields | Should -BeExactly ($Expected + ',"directory":"/out","force":false')
    }

    It 'fails a <Kind> input object without VaultName and Name locally with InvalidInputObject, sending nothing' -ForEach @(
        @{ Kind = 'secret'; Set = 'BySecret' }
        @{ Kind = 'key'; Set = 'ByKey' }
        @{ Kind = 'certificate'; Set = 'ByCertificate' }
    ) {
        $r = Invoke-Backup $Kind @{ ParameterSetName = $Set; InputObject = [pscustomobject]@{ Name = 'x' } }
        $r.Sent.Count | Should -Be 0
        $r.Queue.Count | Should -Be 1
        $r.Queue[0].ErrorRecord.FullyQualifiedErrorId | Should -BeExactly 'InvalidInputObject'
        $r.Queue[0].ErrorRecord.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidArgument)
    }

    It 'reads IsHsm only for keys: a secret object that has one stays in its vault' {
        Mock -ModuleName Az.KeyVault.Backup Resolve-OutputFile { @{ Path = '/out'; IsDirectory = $true } }
        $r = Invoke-Backup 'secret' @{ ParameterSetName = 'BySecret'; InputObject = [pscustomobject]@{ VaultName = 'v1'; Name = 's1'; IsHsm = $true }; OutputFile = '/out/' }
        $r.Sent[0].Fields | Should -BeLike ',"vaultName":"v1",*'
    }

    It 'refuses a parameter set it does not know' {
        { Invoke-Backup 'key' @{ ParameterSetName = 'ByNothing'; Name = 'k' } } | Should -Throw
    }
}
