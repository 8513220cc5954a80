"""CLI subcommands, one module per area of the core."""
