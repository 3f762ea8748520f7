#!/bin/sh
# Example writer for swyx-connector (writer.kind = "command") on Linux.
# Arguments: $1 = Swyx user id, $2 = status (Available|Away|DoNotDisturb|Speaking|none), $3 = revision.
# Exit codes: 0 applied, 3 no such user, 4 superseded, 75 retry later; anything else = failed.
set -eu
user="$1"; status="$2"; revision="$3"
# Replace with your site's call (e.g. an integrator's API); quote every variable.
if ! curl --fail --silent --show-error --max-time 5 \
     --data-urlencode "user=$user" --data-urlencode "status=$status" --data-urlencode "revision=$revision" \
     "https://integration.example.local/swyx-status" >/dev/null; then
    echo "integration endpoint refused or unreachable" >&2
    exit 75
fi
exit 0
