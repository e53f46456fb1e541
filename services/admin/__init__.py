"""The admin module: queue control, the dead-letter archive and the audit log."""
