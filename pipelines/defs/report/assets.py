"""Report assets (filled in below)."""
