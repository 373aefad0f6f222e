"""The reference sheet: a per-file map of the repository built with tree-sitter."""
