# Access to the qar (legacy) module: only with the legacy:read scope, spelled out (wildcard scopes such
# as "*" or "legacy:*" do not open it), and only after the profile PIN was entered in this session.
#
# input {"scopes": [string], "pin_unlocked": bool}
package revenge.qar

import rego.v1

default allow := false

allow if {
	"legacy:read" in input.scopes
	input.pin_unlocked == true
}

decision := {"allow": allow, "reasons": reasons}

reasons contains "scope" if not "legacy:read" in input.scopes

reasons contains "pin" if not input.pin_unlocked == true
