# src/module/private/output-file.ps1: -OutputFile and -InputFile resolved as PowerShell resolves a
# path, to a file-system path only, and the trailing-separator rule for output directories.

BeforeAll {
    Import-Module ([System.IO.Path]::Combine($PSScriptRoot, '..', '..', '..', 'Az.KeyVault.Backup.psd1')) -Force

    # Resolve-OutputFile takes the calling cmdlet, for its session state (the PowerShell location,
    # drives and providers): an advanced function in the module's scope gives it its $PSCmdlet.
    function Resolve-Here([string]$OutputFile) {
        InModuleScope Az.KeyVault.Backup -Parameters @{ OutputFile = $OutputFile } {
            function Invoke-ResolveOutputFile {
                [CmdletBinding()]
                param([string]$OutputFile)
                Resolve-OutputFile -Cmdlet $PSCmdlet -OutputFile $OutputFile -TargetObject 'the-item'
            }
            Invoke-ResolveOutputFile -OutputFile $OutputFile
        }
    }

    function Resolve-InputHere([string]$InputFile) {
        InModuleScope Az.KeyVault.Backup -Parameters @{ InputFile = $InputFile } {
            function Invoke-ResolveInputFile {
                [CmdletBinding()]
                param([string]$InputFile)
                Resolve-InputFile -Cmdlet $PSCmdlet -InputFile $InputFile -TargetObject 'the-file'
            }
            Invoke-ResolveInputFile -InputFile $InputFile
        }
    }

    $script:Sep = [System.IO.Path]::DirectorySeparatorChar
}

Describe 'Resolve-OutputFile' {
    BeforeEach {
        Push-Location -LiteralPath $TestDrive
        $script:ProcessDirectory = [System.Environment]::CurrentDirectory
        [void](New-Item -ItemType Directory -Path ([System.IO.Path]::Combine($TestDrive, 'existing')) -Force)
    }

    AfterEach {
        Pop-Location
        [System.Environment]::CurrentDirectory = $script:ProcessDirectory
    }

    Context 'a file-system path' {
        It 'resolves a relative path against the PowerShell location, not the process working directory' {
            Set-Location -LiteralPath ([System.IO.Path]::Combine($TestDrive, 'existing'))
            [System.Environment]::CurrentDirectory = [System.IO.Path]::GetTempPath()
            $r = Resolve-Here 'a.blob'
            $r.Path | Should -BeExactly ([System.IO.Path]::Combine($TestDrive, 'existing', 'a.blob'))
            $r.IsDirectory | Should -BeFalse
        }

        It 'resolves . and .. segments' {
            $r = Resolve-Here "./existing/../existing/./a.blob"
            $r.Path | Should -BeExactly ([System.IO.Path]::Combine($TestDrive, 'existing', 'a.blob'))
        }

        It 'resolves ~ to the home folder' {
            $homeFolder = (Get-PSProvider FileSystem).Home
            (Resolve-Here '~').Path | Should -BeExactly $homeFolder
            (Resolve-Here '~/x.blob').Path | Should -BeExactly ([System.IO.Path]::Combine($homeFolder, 'x.blob'))
        }

        It 'takes an absolute path as it is' {
            $path = [System.IO.Path]::Combine($TestDrive, 'existing', 'a.blob')
            (Resolve-Here $path).Path | Should -BeExactly $path
        }

        It 'normalises doubled separators and dot segments of an absolute path' {
            $r = Resolve-Here ('{0}{1}{1}existing{1}.{1}a.blob' -f $TestDrive, $script:Sep)
            $r.Path | Should -BeExactly ([System.IO.Path]::Combine($TestDrive, 'existing', 'a.blob'))
        }

        It 'resolves a path on a PowerShell drive to the folder the drive maps' {
            New-PSDrive -Name AzkvbOut -PSProvider FileSystem -Root ([System.IO.Path]::Combine($TestDrive, 'existing')) -Scope Global | Out-Null
            try { (Resolve-Here 'AzkvbOut:/sub/a.blob').Path | Should -BeExactly ([System.IO.Path]::Combine($TestDrive, 'existing', 'sub', 'a.blob')) }
            finally { Remove-PSDrive -Name AzkvbOut -Scope Global }
        }

        It 'takes a path with no trailing separator for a file, whether or not it exists' {
            (Resolve-Here 'missing.blob').IsDirectory | Should -BeFalse
            # An existing directory named so is the caller's to treat as one.
            $r = Resolve-Here 'existing'
            $r.IsDirectory | Should -BeFalse
            $r.Path | Should -BeExactly ([System.IO.Path]::Combine($TestDrive, 'existing'))
        }
    }

    Context 'a trailing separator' {
        It "names an existing directory with '<Separator>'" -ForEach @(@{ Separator = '/' }, @{ Separator = '\' }) {
            $r = Resolve-Here ('existing' + $Separator)
            $r | Should -BeOfType [hashtable]
            $r.IsDirectory | Should -BeTrue
            [System.IO.Path]::TrimEndingDirectorySeparator($r.Path) | Should -BeExactly ([System.IO.Path]::Combine($TestDrive, 'existing'))
        }

        It 'names a directory that must exist: OutputDirectoryNotFound when it does not, never a file of that name' {
            $r = Resolve-Here 'missing/'
            $r | Should -BeOfType [System.Management.Automation.ErrorRecord]
            $r.FullyQualifiedErrorId | Should -BeExactly 'OutputDirectoryNotFound'
            $r.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::ObjectNotFound)
            $r.TargetObject | Should -BeExactly 'the-item'
            [System.IO.Path]::Combine($TestDrive, 'missing') | Should -Not -Exist
        }
    }

    Context 'a path of another provider' {
        It "refuses '<OutputFile>' as InvalidOutputFile" -ForEach @(
            @{ OutputFile = 'Variable:/x' }
            @{ OutputFile = 'Env:PATH' }
            @{ OutputFile = 'Function:/f' }
            @{ OutputFile = 'Alias:/gci' }
        ) {
            $r = Resolve-Here $OutputFile
            $r | Should -BeOfType [System.Management.Automation.ErrorRecord]
            $r.FullyQualifiedErrorId | Should -BeExactly 'InvalidOutputFile'
            $r.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidArgument)
            $r.TargetObject | Should -BeExactly 'the-item'
        }

        It 'refuses a drive that does not exist as InvalidOutputFile, with the reason as its inner exception' {
            $r = Resolve-Here 'AzkvbNoSuchDrive:/a.blob'
            $r.FullyQualifiedErrorId | Should -BeExactly 'InvalidOutputFile'
            $r.Exception.InnerException | Should -Not -Be $null
        }

        It 'refuses a relative path while the PowerShell location is not in the file system' {
            Set-Location Variable:/
            $r = Resolve-Here 'a.blob'
            $r.FullyQualifiedErrorId | Should -BeExactly 'InvalidOutputFile'
        }

        It 'still takes an absolute file-system path while the PowerShell location is not in the file system' {
            $path = [System.IO.Path]::Combine($TestDrive, 'existing', 'a.blob')
            Set-Location Variable:/
            (Resolve-Here $path).Path | Should -BeExactly $path
        }
    }
}

Describe 'Resolve-InputFile' {
    BeforeEach {
        Push-Location -LiteralPath $TestDrive
        $script:ProcessDirectory = [System.Environment]::CurrentDirectory
        [void](New-Item -ItemType Directory -Path ([System.IO.Path]::Combine($TestDrive, 'backups')) -Force)
    }

    AfterEach {
        Pop-Location
        [System.Environment]::CurrentDirectory = $script:ProcessDirectory
    }

    It 'resolves a relative path against the PowerShell location, not the process working directory' {
        Set-Location -LiteralPath ([System.IO.Path]::Combine($TestDrive, 'backups'))
        [System.Environment]::CurrentDirectory = [System.IO.Path]::GetTempPath()
        Resolve-InputHere 'v-s-1.blob' | Should -BeExactly ([System.IO.Path]::Combine($TestDrive, 'backups', 'v-s-1.blob'))
    }

    It 'resolves ~, . and .. and PowerShell drives' {
        $homeFolder = (Get-PSProvider FileSystem).Home
        Resolve-InputHere '~/x.blob' | Should -BeExactly ([System.IO.Path]::Combine($homeFolder, 'x.blob'))
        Resolve-InputHere './backups/../backups/./x.blob' | Should -BeExactly ([System.IO.Path]::Combine($TestDrive, 'backups', 'x.blob'))
        New-PSDrive -Name AzkvbIn -PSProvider FileSystem -Root ([System.IO.Path]::Combine($TestDrive, 'backups')) -Scope Global | Out-Null
        try { Resolve-InputHere 'AzkvbIn:/x.blob' | Should -BeExactly ([System.IO.Path]::Combine($TestDrive, 'backups', 'x.blob')) }
        finally { Remove-PSDrive -Name AzkvbIn -Scope Global }
    }

    It 'gives a path that does not exist as it is: whether the file exists is the executable''s to say' {
        $r = Resolve-InputHere 'missing.blob'
        $r | Should -BeOfType [string]
        $r | Should -BeExactly ([System.IO.Path]::Combine($TestDrive, 'missing.blob'))
    }

    It 'takes an absolute path as it is, also while the PowerShell location is not in the file system' {
        $path = [System.IO.Path]::Combine($TestDrive, 'backups', 'a.blob')
        Resolve-InputHere $path | Should -BeExactly $path
        Set-Location Variable:/
        Resolve-InputHere $path | Should -BeExactly $path
    }

    It "refuses '<InputFile>' as InvalidInputFile (InvalidArgument), naming the file as its target" -ForEach @(
        @{ InputFile = 'Variable:/x' }
        @{ InputFile = 'Env:PATH' }
        @{ InputFile = 'Function:/f' }
        @{ InputFile = 'AzkvbNoSuchDrive:/a.blob' }
    ) {
        $r = Resolve-InputHere $InputFile
        $r | Should -BeOfType [System.Management.Automation.ErrorRecord]
        $r.FullyQualifiedErrorId | Should -BeExactly 'InvalidInputFile'
        $r.CategoryInfo.Category | Should -Be ([System.Management.Automation.ErrorCategory]::InvalidArgument)
        $r.TargetObject | Should -BeExactly 'the-file'
    }
}
