# What a restore writes: the item the executable brought back (the result line's 'item'), as an
# object with the main properties of Az's PSKeyVaultSecret, PSKeyVaultKey or PSKeyVaultCertificate
# and that type's name, so that scripts reading $restored.Version or $restored.Id, and formatting
# keyed on the type name, work as with Az. Az's own types cannot be made without Az loaded.

# The item's fields (camelCase, as the executable writes them) -> the property of each kind's object,
# in the order Az shows them.
$script:RestoredProperties = @{
    secret      = @('VaultName', 'Name', 'Version', 'Id', 'Enabled', 'Expires', 'NotBefore', 'Created', 'Updated', 'ContentType', 'Tags', 'SecretValue')
    key         = @('VaultName', 'Name', 'Version', 'Id', 'Enabled', 'Expires', 'NotBefore', 'Created', 'Updated', 'RecoveryLevel', 'Tags', 'KeyType', 'KeySize', 'CurveName', 'IsHsm')
    certificate = @('VaultName', 'Name', 'Version', 'Id', 'Enabled', 'Expires', 'NotBefore', 'Created', 'Updated', 'RecoveryLevel', 'Tags', 'KeyId', 'SecretId', 'Thumbprint')
}
$script:RestoredDates = [System.Collections.Generic.HashSet[string]]::new([string[]]@('Expires', 'NotBefore', 'Created', 'Updated'), [System.StringComparer]::OrdinalIgnoreCase)

function ConvertTo-UtcDate {
    # An ISO 8601 time as the executable writes it ("2026-12-02T06:00:00.000Z"), or what
    # ConvertFrom-Json made of it (PowerShell 7 reads such strings as dates, 5.1 does not), as a
    # [datetime] of kind Utc; $null when absent or unreadable.
    param($Value)
    if ($null -eq $Value) { return $null }
    if ($Value -is [System.DateTimeOffset]) { return $Value.UtcDateTime }
    if ($Value -is [datetime]) {
        if ($Value.Kind -eq [System.DateTimeKind]::Local) { return $Value.ToUniversalTime() }
        return [datetime]::SpecifyKind($Value, [System.DateTimeKind]::Utc)
    }
    $parsed = [System.DateTimeOffset]::MinValue
    $styles = [System.Globalization.DateTimeStyles]::AssumeUniversal
    if ([System.DateTimeOffset]::TryParse([string]$Value, [System.Globalization.CultureInfo]::InvariantCulture, $styles, [ref]$parsed)) { return $parsed.UtcDateTime }
    return $null
}

function ConvertTo-RestoredItem {
    # Pure: a result's item (as ConvertFrom-Json read it, or a dictionary) and the pipeline's kind
    # -> the object the Restore cmdlet writes. A field the executable left out is $null. Runs once
    # per restored item, so the common cases are inline: a call per field would cost more than the
    # rest of the item's work in the module.
    param($Item, [string]$Kind)
    $names = $script:RestoredProperties[$Kind]
    if ($null -eq $names) { throw ('Unknown item kind {0}' -f $Kind) }
    $dictionary = $Item -is [System.Collections.IDictionary]
    $properties = $null
    if (-not $dictionary -and $null -ne $Item) { $properties = $Item.PSObject.Properties }
    $utc = [System.DateTimeKind]::Utc
    $values = [ordered]@{}
    foreach ($name in $names) {
        # VaultName -> vaultName: the protocol's spelling; both lookups ignore case.
        $value = $null
        if ($dictionary) { foreach ($key in $Item.Keys) { if ([string]::Equals([string]$key, $name, [System.StringComparison]::OrdinalIgnoreCase)) { $value = $Item[$key]; break } } }
        elseif ($null -ne $properties) { $property = $properties[$name]; if ($null -ne $property) { $value = $property.Value } }
        if ($null -ne $value) {
            if ($script:RestoredDates.Contains($name)) {
                # PowerShell 7's ConvertFrom-Json already made a UTC [datetime] of the ISO text.
                if (-not ($value -is [datetime] -and $value.Kind -eq $utc)) { $value = ConvertTo-UtcDate -Value $value }
            }
            elseif ($name -eq 'Tags') {
                $tags = @{}
                if ($value -is [System.Collections.IDictionary]) { foreach ($key in $value.Keys) { $tags[[string]$key] = [string]$value[$key] } }
                else { foreach ($property in $value.PSObject.Properties) { $tags[$property.Name] = [string]$property.Value } }
                $value = $tags
            }
            elseif ($name -eq 'Enabled') { $value = [bool]$value }
            elseif ($name -eq 'IsHsm') { $value = $value -is [bool] -and $value }
            elseif ($name -eq 'KeySize') { $value = [int]$value }
            elseif ($name -eq 'SecretValue') { $value = $null }
            else { $value = [string]$value }
        }
        elseif ($name -eq 'IsHsm') { $value = $false }
        $values[$name] = $value
    }
    $restored = [pscustomobject]$values
    $restored.PSObject.TypeNames.Insert(0, $script:ItemKinds[$Kind].TypeName)
    return $restored
}
