# Example writer for swyx-connector (writer.kind = "command") on the SwyxServer host.
# config.toml:
#   [writer.command]
#   program = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
#   args = ["-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-File", "C:\\swyx-connector\\set-swyx-status.ps1"]
# The connector appends three arguments: the Swyx user id, the status (Available, Away,
# DoNotDisturb, Speaking, or none = withdraw) and the revision. The same values, and the Teams
# presence, are in SWYX_USER_ID, SWYX_STATUS, SWYX_REVISION, SWYX_USER_EMAIL, SWYX_SIP_URI,
# TEAMS_AVAILABILITY, TEAMS_ACTIVITY, TEAMS_OUT_OF_OFFICE, TEAMS_OBSERVED_AT.
# Exit codes: 0 applied, 3 no such user, 4 superseded, 75 retry later; anything else = failed.
param(
    [Parameter(Mandatory = $true)][string]$SwyxUserId,
    [Parameter(Mandatory = $true)][string]$Status,
    [Parameter(Mandatory = $true)][long]$Revision
)
$ErrorActionPreference = "Stop"
try {
    # Replace this block with your site's way of setting a Swyx status, e.g. a call into the
    # SwyxWare administration tools or the ConfigDataStore client library. No public Swyx API
    # does it; see README "What is observed rather than documented".
    $line = "{0:o} user={1} status={2} revision={3}" -f (Get-Date), $SwyxUserId, $Status, $Revision
    Add-Content -Path "C:\swyx-connector\applied.log" -Value $line
    exit 0
} catch {
    [Console]::Error.WriteLine($_.Exception.Message)   # quoted in the connector's status output
    exit 1
}
