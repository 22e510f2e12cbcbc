"""Pure reconciliation logic: resources in, desired objects and status out. No I/O here."""
