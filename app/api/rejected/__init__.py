"""Rejected notifications: registry events the receiver kept aside instead of recording, with their reason."""
