"""Access-log resource."""
