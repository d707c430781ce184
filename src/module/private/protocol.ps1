# Printable ASCII but for the quote and the backslash: such a string is its own JSON body.
$script:PlainJsonText = [regex]::new('^[\x20-\x21\x23-\x5B\x5D-\x7E]*$', [System.Text.RegularExpressions.RegexOptions]::Compiled)

# A success result as the executable writes it, with a path that needs no JSON unescaping.
$script:SuccessResultLine = [regex]::new('^\{"type":"result","id":(\d+),"ok":true,"path":"([^"\\]*)","bytes":\d+(?:,"logged":(\d+))?\}$', [System.Text.RegularExpressions.RegexOptions]::Compiled)
# The executable's answer to a pipeline's 'end', which the module does not wait for (it already has
# every result): read past cheaply by whichever call reads next.
$script:DoneLine = [regex]::new('^\{"type":"done","pipeline":\d+,', [System.Text.RegularExpressions.RegexOptions]::Compiled)

function ConvertTo-JsonString {
    # ASCII-only JSON strings mean the encoding of the child's stdin can never garble a secret
    # name, even under Windows PowerShell where the stdin encoding cannot be chosen.
    param([string]$Value)
    if ($script:PlainJsonText.IsMatch($Value)) { return '"' + $Value + '"' }
    $builder = [System.Text.StringBuilder]::new($Value.Length + 16)
    [void]$builder.Append([char]'"')
    foreach ($c in $Value.ToCharArray()) {
        $code = [int]$c
        if ($c -eq [char]'"') { [void]$builder.Append('\"') }
        elseif ($c -eq [char]'\') { [void]$builder.Append('\\') }
        elseif ($code -lt 0x20 -or $code -gt 0x7E) { [void]$builder.Append(('\u{0:x4}' -f $code)) }
        else { [void]$builder.Append($c) }
    }
    [void]$builder.Append([char]'"')
    return $builder.ToString()
}

function ConvertTo-ProtocolLine {
    # Written by hand rather than with ConvertTo-Json, which costs about a millisecond per call:
    # more than the backup itself when a whole vault is piped. Messages are flat: strings,
    # numbers, booleans and arrays of strings.
    param([System.Collections.IDictionary]$Message)
    $parts = [System.Collections.Generic.List[string]]::new()
    foreach ($key in $Message.Keys) {
        $value = $Message[$key]
        if ($value -is [string] -and $script:PlainJsonText.IsMatch($value)) { $json = '"' + $value + '"' }
        elseif ($null -eq $value) { $json = 'null' }
        elseif ($value -is [bool]) { if ($value) { $json = 'true' } else { $json = 'false' } }
        elseif ($value -is [int] -or $value -is [long] -or $value -is [double]) { $json = ([System.IFormattable]$value).ToString($null, [System.Globalization.CultureInfo]::InvariantCulture) }
        elseif ($value -is [System.Collections.IEnumerable] -and $value -isnot [string]) {
            $items = foreach ($item in $value) { ConvertTo-JsonString -Value ([string]$item) }
            $json = '[' + (@($items) -join ',') + ']'
        }
        else { $json = ConvertTo-JsonString -Value ([string]$value) }
        # Keys are this module's own identifiers: plain ASCII.
        $parts.Add('"' + $key + '":' + $json)
    }
    return '{' + ($parts -join ',') + '}'
}

function Hide-Token {
    param([string]$Line)
    return [regex]::Replace($Line, '("token"\s*:\s*)"(?:[^"\\]|\\.)*"', '$1"***"')
}
