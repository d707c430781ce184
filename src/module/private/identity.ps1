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
