"""``mmframe record`` (placeholder while being written)."""

import click


@click.command("record")
def record_command() -> None:
    """Record."""
