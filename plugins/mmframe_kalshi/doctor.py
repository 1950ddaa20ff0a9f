"""``mmframe doctor FILE`` (placeholder while being written)."""

import click


@click.command("doctor")
def doctor_command() -> None:
    """Check a pipeline's venue."""
