"""The implementation side: protocol v1 on the wire, the runner of an adapter, the reference and the shipped
adapters."""
