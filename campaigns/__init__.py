"""The campaign files shipped with labrf (package data; see labrf.shipped)."""
