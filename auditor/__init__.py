"""auditor: compliance auditing and call review for debt collection."""

__version__ = "0.1.0"
