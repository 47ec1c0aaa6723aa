"""Webhook policies resource (Harbor 2.x paths and the 1.x family)."""
