"""Business rules and transactions; namespaces call these with plain values."""
