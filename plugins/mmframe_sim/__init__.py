"""mmframe_sim: a local Kalshi exchange that speaks Kalshi's wire protocol (REST, WebSocket, signatures).

- ``venue: sim`` (`mmframe_sim.venue`): the simulator inside the daemon, traded on through the
  ``kalshi`` venue (named as its client; this package never imports the Kalshi client it judges).
- ``mmframe sim serve``: run it on a loopback port and print ``key_id=... rest=... ws=...``.
- `start_simulator` (an async context manager): run it inside the caller's event loop, for tests and
  ``venue: sim``::

      async with start_simulator() as sim:
          key_id, private_key_pem = sim.create_api_key()
          ...  # sim.rest_url, sim.ws_url, sim.admin_url, sim.exchange

The heavy parts (uvicorn, starlette, the engine) load only when a command or the server is used, so
``mmframe plugins list`` stays fast.
"""

from __future__ import annotations

import pathlib
import sys
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import click

from mmframe.api import hookimpl

if TYPE_CHECKING:
    from mmframe_sim.serve import RunningSimulator

__all__ = ["register_commands", "register_venues", "start_simulator"]


MMFRAME_API = ">=1.0,<2"
"""The mmframe plugin API range this plugin is written for (`mmframe.api.API_VERSION`)."""


def start_simulator(*args: Any, **kwargs: Any) -> AbstractAsyncContextManager[RunningSimulator]:
    """Serve a simulator in the current event loop; see `mmframe_sim.serve.start_simulator`."""
    from mmframe_sim.serve import start_simulator as start

    return start(*args, **kwargs)


def _dollars(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    from mmframe_sim.money import parse_price

    try:
        return parse_price(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@hookimpl
def register_venues(register: Any) -> None:
    """The ``sim`` venue."""
    from mmframe_sim.venue import SPEC

    register(SPEC)


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``mmframe sim serve``."""

    @cli.group("sim")
    def sim() -> None:
        """The local Kalshi exchange simulator."""

    @sim.command("serve")
    @click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (loopback by default).")
    @click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
                  help="TCP port (0 = any free port).")
    @click.option("--scenario", default=None, help="Scenario YAML file or name (default: the standard one).")
    @click.option("--seed", default=None, type=int, help="Random seed (default: the scenario's).")
    @click.option("--key-out", default="sim-key.pem", show_default=True, type=click.Path(path_type=pathlib.Path),
                  help="Where to write the generated private key (mode 0600).")
    @click.option("--public-key", default=None, type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
                  help="Register this public key (PEM, RSA or Ed25519) instead of generating a key pair.")
    @click.option("--tier", default="advanced", show_default=True,
                  type=click.Choice(["basic", "advanced", "premier", "paragon", "prime", "unlimited"]),
                  help="Rate-limit tier of the key.")
    @click.option("--balance", default=None, callback=_dollars,
                  help="Starting balance in dollars, e.g. 1000.00 (default: the scenario's).")
    @click.option("--read-only", is_flag=True,
                  help="Make the key read-only: its writes are answered 403 (a paper-trading key).")
    def serve(host: str, port: int, scenario: str | None, seed: int | None, key_out: pathlib.Path,
              public_key: pathlib.Path | None, tier: str, balance: int | None, read_only: bool) -> None:
        """Run the simulator until Ctrl-C; prints one line: key_id=<id> rest=<url> ws=<url>."""
        import anyio

        from mmframe_sim.serve import serve_forever

        def echo(line: str) -> None:
            click.echo(line)
            sys.stdout.flush()  # the line is read by scripts waiting for the server

        async def main() -> None:
            await serve_forever(
                host=host, port=port, scenario=scenario, seed=seed, key_out=key_out, public_key=public_key,
                tier=tier, balance=balance, echo=echo, read_only=read_only,
            )

        try:
            anyio.run(main)
        except (OSError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
