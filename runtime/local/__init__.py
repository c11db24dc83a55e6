"""The local stack: everything aidlc needs, on one machine, on loopback."""
