"""The HTTP control plane: health, metrics, state, pause/resume/flatten/params and the dashboard."""

from mmframe.control.auth import ControlConfigError
from mmframe.control.server import build_control_plane, open_control_socket, serve_control

__all__ = ["ControlConfigError", "build_control_plane", "open_control_socket", "serve_control"]
