function Get-ItemIdentity {
    # Az's item objects (PSKeyVaultSecretIdentityItem, PSKeyVaultKeyIdentityItem,
    # PSKeyVaultCertificateIdentityItem and their subclasses) cannot be named without Az loaded, so
    # any object (or dictionary) with non-empty VaultName and Name is accepted. IsHsm: a key of a
    # Managed HSM (Az's key objects say so), whose VaultName is the HSM's name.
    param($InputObject)
    $fields = Get-ObjectFields -InputObject $InputObject -Names 'VaultName', 'Name', 'IsHsm'
    if ($null -eq $fields -or $null -eq $fields.VaultName -or $null -eq $fields.Name) { return $null }
    $vault = [string]$fields.VaultName
    $name = [string]$fields.Name
    if ($vault.Length -eq 0 -or $name.Length -eq 0) { return $null }
    return @{ VaultName = $vault; Name = $name; IsHsm = ($fields.IsHsm -is [bool] -and $fields.IsHsm) }
}

function Get-ObjectFields {
    # The named properties of an object, or keys of a dictionary, each $null when absent; $null for
    # no object or a scalar (a string, a number), which names no item or vault.
    param($InputObject, [string[]]$Names)
    if ($null -eq $InputObject) { return $null }
    $base = $InputObject
    if ($base -is [psobject]) { $base = $base.PSObject.BaseObject }
    if ($base -is [string] -or $base -is [System.ValueType]) { return $null }
    $fields = @{}
    if ($base -is [System.Collections.IDictionary]) { foreach ($name in $Names) { $fields[$name] = $base[$name] } }
    else {
        $properties = $InputObject.PSObject.Properties
        foreach ($name in $Names) {
            $property = $properties[$name]
            if ($null -ne $property) { $fields[$name] = $property.Value } else { $fields[$name] = $null }
        }
    }
    return $fields
}

function Get-VaultIdentity {
    # A vault or Managed HSM object (Az's PSKeyVault from Get-AzKeyVault, PSManagedHsm from
    # Get-AzKeyVaultManagedHsm): its VaultName, as Az's Restore cmdlets read it. Any object or
    # dictionary with a non-empty VaultName is accepted; $null otherwise.
    param($InputObject)
    $fields = Get-ObjectFields -InputObject $InputObject -Names 'VaultName'
    if ($null -eq $fields -or $null -eq $fields.VaultName) { return $null }
    $vault = [string]$fields.VaultName
    if ($vault.Length -eq 0) { return $null }
    return $vault
}

function Get-ResourceIdName {
    # The vault's (or HSM's) name in an Azure resource id, as Az's ResourceIdentifier gives it: the
    # last segment of /subscriptions/<id>/resourceGroups/<group>/providers/<namespace>/<type>/<name>.
    # $null when the text is not such an id.
    param([string]$ResourceId)
    if (-not $ResourceId) { return $null }
    $segments = $ResourceId.Trim().TrimEnd([char]'/').Split([char]'/')
    # '', subscriptions, <id>, resourceGroups, <group>, providers, <namespace>, then type/name pairs.
    if ($segments.Count -lt 9 -or ($segments.Count - 7) % 2 -ne 0 -or $segments[0] -ne '') { return $null }
    if ($segments[1] -ne 'subscriptions' -or $segments[3] -ne 'resourceGroups' -or $segments[5] -ne 'providers') { return $null }
    foreach ($segment in $segments[1..($segments.Count - 1)]) { if ($segment.Length -eq 0) { return $null } }
    return $segments[$segments.Count - 1]
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
