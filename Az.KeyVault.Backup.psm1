# Az.KeyVault.Backup as it runs from a clone of the repository: the Backup and Restore cmdlets of
# secrets, keys and certificates as drop-ins for the Az.KeyVault cmdlets, their source one file per
# concern under src/module, dot-sourced here in the order the build joins them (build/module.mjs),
# so a change to a source file is live at the next Import-Module. The shipped module is that join:
# one psm1 that Windows PowerShell 5.1 parses, and the public functions' PowerShell 7.3+ forms (with
# their clean blocks) beside it.

if ($PSVersionTable.PSVersion -lt [version]'7.3') {
    throw ('This is the development copy of Az.KeyVault.Backup, which needs PowerShell 7.3 or later (its source has a clean block). On PowerShell {0}, import a built package instead (npm run release, then one of the zips in dist/).' -f $PSVersionTable.PSVersion)
}

$sourceRoot = [System.IO.Path]::Combine($PSScriptRoot, 'src', 'module')
$privateFiles = [System.IO.Directory]::GetFiles([System.IO.Path]::Combine($sourceRoot, 'private'), '*.ps1')
[System.Array]::Sort($privateFiles, [System.StringComparer]::Ordinal)
foreach ($sourceFile in $privateFiles) { . $sourceFile }
$publicFiles = [System.IO.Directory]::GetFiles([System.IO.Path]::Combine($sourceRoot, 'public'), '*.ps1')
[System.Array]::Sort($publicFiles, [System.StringComparer]::Ordinal)
foreach ($sourceFile in $publicFiles) { . $sourceFile }
. ([System.IO.Path]::Combine($sourceRoot, 'module.ps1'))
Remove-Variable -Name sourceRoot, privateFiles, publicFiles, sourceFile
