"""Projects resource."""
