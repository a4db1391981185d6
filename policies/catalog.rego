# Which catalog items a profile may see: parental rating and tags.
#
# input.item    {"rating": string | null, "tags": [string]}
# input.profile {"max_rating": string | null, "allow_unrated": bool,
#                "blocked_tags": [string], "allowed_tags": [string]}
#
# The rank table mirrors infra/authz/ratings.py (RATING_RANKS), which list queries use to put the same
# rule into SQL (WHERE rating_rank <= $1); tests/infra/authz/test_ratings.py proves the two agree.
# A rating missing from the table counts as unrated. Tags compare case-insensitively.
package revenge.catalog

import rego.v1

ranks := {
	"G": 0, "TV-Y": 0, "TV-G": 0, "U": 0, "E": 0,
	"TV-Y7": 7, "TV-Y7-FV": 7,
	"PG": 10, "TV-PG": 10,
	"PG-13": 13, "TV-14": 13, "12": 13, "12A": 13,
	"R": 17, "TV-MA": 17, "15": 17, "16": 17,
	"NC-17": 18, "18": 18, "X": 18, "R18": 18,
}

default allow := false

allow if {
	rating_ok
	not blocked
	allowed_tag_ok
}

decision := {"allow": allow, "reasons": reasons}

reasons contains "rating" if not rating_ok

reasons contains "blocked_tag" if blocked

reasons contains "no_allowed_tag" if not allowed_tag_ok

item_rank := ranks[upper(trim_space(input.item.rating))] if is_string(input.item.rating)

has_limit if is_string(input.profile.max_rating)

max_rank := ranks[upper(trim_space(input.profile.max_rating))] if has_limit

rating_ok if not has_limit

rating_ok if {
	has_limit
	item_rank <= max_rank
}

rating_ok if {
	has_limit
	not is_number(item_rank)
	input.profile.allow_unrated == true
}

item_tags contains lower(tag) if {
	some tag in input.item.tags
}

blocked if {
	some tag in input.profile.blocked_tags
	lower(tag) in item_tags
}

allowed_tag_ok if not has_allowed_tags

allowed_tag_ok if {
	some tag in input.profile.allowed_tags
	lower(tag) in item_tags
}

has_allowed_tags if count(input.profile.allowed_tags) > 0
