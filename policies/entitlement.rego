# Playback entitlement by billing tier: the hook the billing module will fill in. Until billing exists
# every playback is entitled (default allow); the service already asks, so adding a tier rule here is
# the only change billing needs on the authorization side.
#
# input {"user_id": string | null, "resource": {"kind": string, "library_id": string | null}}
package revenge.entitlement

import rego.v1

default allow := true

decision := {"allow": allow, "reasons": reasons}

reasons contains "not_entitled" if not allow
