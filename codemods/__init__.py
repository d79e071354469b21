"""unibase codemods: one pure LibCST transform per file."""
