"""Logs one line for each switch the controller's apps have all seen connect.

``install()`` runs in the controller process before the apps start. A switch is
connected for taplab once os-ken has its features and ports (the datapath enters
``MAIN_DISPATCHER``) and every app has handled the events queued before that
(its features handler ran: table-miss flows are sent, or the app died). Then the
log says ``switch <dpid, 16 hex digits> connected (OpenFlow 1.3)``, the line
``runtime.wait_connected`` reads. The switch's own ``is_connected`` is no proof:
after a version mismatch OVS counts itself connected until the controller closes
the connection a moment later.
"""

import logging
import re
import threading

LOG = logging.getLogger("taplab.controllers.handshake")
CONNECTED = re.compile(r"switch ([0-9a-f]{16}) connected \(OpenFlow")
VERSIONS = {0x01: "1.0", 0x02: "1.1", 0x03: "1.2", 0x04: "1.3", 0x05: "1.4", 0x06: "1.5"}


class CaughtUp:
    """The event queued to every app after a datapath's handshake; each app that handles
    it acks, and the last ack logs the line."""

    def __init__(self, datapath, app_names: set[str]):
        self.datapath, self.waiting, self.lock = datapath, app_names, threading.Lock()

    def ack(self, app_name: str) -> None:
        with self.lock:
            if app_name not in self.waiting:
                return
            self.waiting.discard(app_name)
            if self.waiting:
                return
        dp = self.datapath
        version = VERSIONS.get(dp.ofproto.OFP_VERSION, dp.ofproto.OFP_VERSION)
        LOG.info("switch %016x connected (OpenFlow %s)", dp.id, version)


def install() -> None:
    """Log each datapath once every app caught up with its handshake; call before apps."""
    from os_ken.base import app_manager
    from os_ken.controller.controller import Datapath
    from os_ken.controller.handler import MAIN_DISPATCHER
    from os_ken.lib import hub

    registered = threading.Lock()

    def queue_to_every_app(dp) -> None:
        apps = list(app_manager.SERVICE_BRICKS.values())
        caught_up = CaughtUp(dp, {app.name for app in apps})
        for app in apps:
            with registered:
                if CaughtUp not in app.event_handlers:
                    app.register_handler(CaughtUp, lambda ev, name=app.name: ev.ack(name))
            app.send_event(app.name, caught_up)

    set_state = Datapath.set_state

    def _set_state(self, state) -> None:
        entering = state == MAIN_DISPATCHER and self.state != state
        set_state(self, state)
        if entering and self.id is not None:
            # From a thread of its own: an app's full queue must not stall the handshake.
            hub.spawn(queue_to_every_app, self)

    Datapath.set_state = _set_state


def connected_dpids(log_text: str) -> set[str]:
    """The datapath ids (16 hex digits) the controller log says every app saw connect."""
    return set(CONNECTED.findall(log_text))
