"""Bulk extraction of Business Central collections to object storage (used by the transfer operator)."""
