"""The rehearsal lab: a small SmartSite cluster on this machine (see lab/README.md)."""
