"""Command-line interface: thin Typer commands over the application layer."""
