# Which catalog items a profile may see: parental rating, tags and libraries.
#
# Two questions, one rule set:
#   decision    one item:  input.item {"rating": string | null, "tags": [string]}, input.profile
#   visibility  a profile's whole view, computed once per request; list queries put it in SQL
#               (loaders/visibility.py), so counts and pages never see a hidden item.
#
# input.profile {"max_rating": string | null, "allow_unrated": bool, "is_kids": bool,
#                "blocked_tags": [string], "allowed_tags": [string],
#                "library_ids": [string] | null}   (null: every library the grants allow)
# input.grants  {"all_libraries": bool, "library_ids": [string]}   (Casbin's library grants)
#
# `ranks` is the one rating table: the scanner stores an item's rank from it and the SQL compares
# those ranks with visibility.max_rank. A rating missing from the table counts as unrated. Tags
# compare case-insensitively.
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

# A kids profile never sees above this rating, whatever its own limit says.
kids_max_rating := "PG-13"

# -- the rank limit

has_limit if is_string(input.profile.max_rating)

# A profile limit that is not in the table sees no rated item (-1): it must not become "no limit".
limits contains object.get(ranks, upper(trim_space(input.profile.max_rating)), -1) if has_limit

limits contains ranks[kids_max_rating] if input.profile.is_kids == true

has_rank_limit if count(limits) > 0

# The lowest limit. Not min(limits) nor sort(limits)[0]: regopy 1.5.2 answers min([7, 10]) with
# 10 and leaves an index into a sorted rule undefined.
max_rank := lowest if {
	some lowest in limits
	every other in limits {
		lowest <= other
	}
}

default unrated_visible := false

unrated_visible if not has_rank_limit

unrated_visible if input.profile.allow_unrated == true

# -- one item

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

rating_ok if not has_rank_limit

rating_ok if {
	has_rank_limit
	item_rank <= max_rank
}

rating_ok if {
	not is_number(item_rank)
	unrated_visible
}

item_tags contains lower(tag) if {
	some tag in input.item.tags
}

blocked if {
	some tag in blocked_tags
	tag in item_tags
}

allowed_tag_ok if count(allowed_tags) == 0

allowed_tag_ok if {
	some tag in allowed_tags
	tag in item_tags
}

blocked_tags contains lower(tag) if {
	some tag in input.profile.blocked_tags
}

allowed_tags contains lower(tag) if {
	some tag in input.profile.allowed_tags
}

# -- a profile's whole view

default all_libraries := false

all_libraries if {
	input.grants.all_libraries == true
	not is_array(input.profile.library_ids)
}

granted := {id | some id in input.grants.library_ids}

chosen := {id | some id in input.profile.library_ids}

default libraries := set()

libraries := chosen if {
	input.grants.all_libraries == true
	is_array(input.profile.library_ids)
}

libraries := granted if {
	not input.grants.all_libraries == true
	not is_array(input.profile.library_ids)
}

libraries := granted & chosen if {
	not input.grants.all_libraries == true
	is_array(input.profile.library_ids)
}

default visible_max_rank := null

visible_max_rank := max_rank

visibility := {
	"all_libraries": all_libraries,
	"library_ids": sort(libraries),
	"max_rank": visible_max_rank,
	"allow_unrated": unrated_visible,
	"blocked_tags": sort(blocked_tags),
	"allowed_tags": sort(allowed_tags),
}
