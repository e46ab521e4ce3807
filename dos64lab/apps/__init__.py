"""Apps: small user programs on the stack's socket API, one file each, read top to bottom."""
