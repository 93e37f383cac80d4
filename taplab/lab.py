"""The Lab: owns every namespace, link, switch, process and file it creates.

Each resource is written to the lab's state file (``/run/taplab/labs/<id>.json``)
the moment it exists, and everything is torn down in reverse order on normal
exit, on exceptions, on SIGINT, SIGTERM and SIGHUP. Logs, captures and reports
go to the lab's output folder (``./labs/<id>-<name>/``, ``taplab.artefacts``),
which outlives the lab. After a ``kill -9``,
``taplab clean`` tears down from the same record::

    with Lab("cluster") as lab:
        pod1, pod2 = lab.add_host("pod1"), lab.add_host("pod2")
        bridge = lab.add_switch("bridge")
        lab.add_link(pod1, bridge); lab.add_link(pod2, bridge)
        lab.start()

Other taplab processes (``taplab tap attach`` while ``taplab lab`` runs) work
on the same lab through a ``LabHandle``: what they create is recorded in the
same state file and removed with the lab.
"""

import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import Host, Node, OVSSwitch, RemoteController

from taplab import artefacts, capabilities
from taplab.errors import UserError, require_root
from taplab.nodes import NamespacedBridge
from taplab.procs import ProcessId
from taplab.resources import Resource, describe, remove
from taplab.shell import in_netns, run
from taplab.state import LabState, find_lab

# OVS bridges speak every OpenFlow version os-ken does; the controller's apps choose.
OPENFLOW_VERSIONS = ",".join(f"OpenFlow1{minor}" for minor in range(6))


class ListeningController(RemoteController):
    """A controller the runtime has already seen listening. Mininet's own check
    telnets to the port and decodes the controller's binary OpenFlow HELLO as
    UTF-8, which fails now and then."""

    def checkListening(self) -> None:
        pass


def _exit_on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def teardown(state: LabState, log=None) -> list[str]:
    """Remove a lab's recorded resources in reverse order; return what failed."""
    failures = []
    for resource in reversed(state.resources):
        try:
            remove(resource)
        except Exception as exc:  # noqa: BLE001 - keep tearing down the rest
            failures.append(f"{describe(resource)}: {exc}")
        if log:
            log(describe(resource))
    state.delete()
    artefacts.hand_over(state.output, state.meta.get("output_owner"))
    return failures


class LabHandle:
    """Records resources into a lab and starts processes in its namespaces."""

    def __init__(self, state: LabState | None = None):
        self.state = state

    @classmethod
    def find(cls, lab_id: str | None = None) -> "LabHandle":
        """The running lab with this id (or the only one running)."""
        require_root("working on a lab")
        return cls(find_lab(lab_id))

    @property
    def id(self) -> str:
        return self.state.id

    @property
    def workdir(self) -> Path:
        """The lab's output folder for logs, captures, ground truth and reports
        (it stays when the lab ends)."""
        return self.state.output or self.state.workdir

    @property
    def rundir(self) -> Path:
        """The lab's folder for secrets and runtime files, removed with the lab."""
        return self.state.workdir

    @property
    def meta(self) -> dict:
        return self.state.meta

    @property
    def nodes(self) -> dict[str, str]:
        """Node name to the name of its network namespace."""
        return self.state.nodes

    @property
    def controller(self) -> dict:
        """What the lab's controller published (``controllers.runtime``): OpenFlow port,
        pid, log, and with a lambda server its API URL, token file, telemetry port and
        key file; {} when the lab has no controller."""
        return self.state.meta.get("controller") or {}

    @property
    def has_lambda_server(self) -> bool:
        return "api_url" in self.controller

    def record(self, resource: Resource) -> Resource:
        """Write a resource to the state file; call right after creating it."""
        self.state.add(resource)
        return resource

    def set_meta(self, **meta) -> None:
        """Publish facts other taplab commands need (addresses, roles, ports)."""
        self.state.update_meta(**meta)

    def root_name(self, name: str) -> str:
        """A root-namespace name unique to this lab (OVS bridges, root links)."""
        return f"{self.id}{name}"

    def netns(self, node: Node | str) -> str:
        """The named network namespace of a node (its name under /run/netns)."""
        name = str(node)
        nodes = self.nodes
        if name not in nodes:
            known = ", ".join(sorted(nodes)) or "none"
            raise UserError(f"no node named '{name}' in lab {self.id} (nodes: {known}).")
        return nodes[name]

    def sh(self, node: Node | str, argv: Sequence[str], check: bool = True) -> str:
        """Run a command to completion inside a node; return its output."""
        return run(argv, check=check, netns=self.netns(node))

    def popen(
        self,
        argv: Sequence[str],
        node: Node | str | None = None,
        log: str | None = None,
        grace: float = 3.0,
        **kwargs,
    ) -> subprocess.Popen:
        """Start a process (inside node's namespace when given) that the lab stops."""
        if node is not None:
            argv = in_netns(argv, self.netns(node))
        out = open(self.workdir / log, "ab") if log else subprocess.DEVNULL
        try:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                **kwargs,
            )
        finally:
            if log:
                out.close()
        try:
            process = ProcessId.of(proc.pid)
        except ProcessLookupError:
            return proc  # it has already exited: nothing to stop later
        try:
            if getattr(self, "closing", False):
                raise UserError("the lab is closing: it starts no more processes.")
            self.record(
                {
                    "kind": "process",
                    "pid": proc.pid,
                    "cmd": " ".join(argv[-3:]),
                    "started": process.started,
                    "grace": grace,
                }
            )
        except BaseException:  # not recorded, as the lab closes: not left behind either
            process.stop(grace)
            raise
        return proc


class Lab(LabHandle):
    """A running lab: a Mininet network plus a record of everything created.

    controller_apps: os-ken/Ryu apps for OVS switches; when not None, the first
    OVS switch starts a controller running them (an empty list: taplab's
    default apps) and every OVS switch uses it. output: where the lab's output
    folder goes (default ``$TAPLAB_OUTPUT`` or ``./labs``).
    """

    def __init__(
        self,
        name: str,
        debug: bool = False,
        controller_apps: list[str] | None = None,
        output: str | Path | None = None,
    ):
        require_root(f"building the '{name}' lab")
        super().__init__()
        setLogLevel("info" if debug else "output")
        self.name = name
        self.debug = debug
        self.controller_apps = controller_apps
        self.output = output
        self.net: Mininet | None = None
        self._dpids = 0
        self._saved_handlers: dict = {}
        self.started = False  # start() finished: the controller is restarted if it dies
        self.closing = False  # close() began: nothing new is started or recorded

    def __enter__(self) -> "Lab":
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._saved_handlers[sig] = signal.signal(sig, _exit_on_signal)
        self._saved_handlers[signal.SIGINT] = signal.signal(
            signal.SIGINT, signal.default_int_handler
        )
        self.state = LabState.create(self.name)
        self.rundir.mkdir(parents=True, exist_ok=True)
        self.record({"kind": "path", "path": str(self.rundir)})
        try:
            folder = artefacts.create(self.id, self.name, self.output)
        except BaseException:
            self.close()
            raise
        self.set_meta(output=str(folder), output_owner=artefacts.invoking_user())
        self.net = Mininet(
            topo=None,
            build=False,
            controller=None,
            cleanup=False,
            autoSetMacs=False,
            waitConnected=False,
        )
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Tear everything down; safe to call twice; Ctrl-C cannot interrupt it."""
        if self.state is None:
            return
        self.closing = True  # the controller's watch must not restart what teardown stops
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        try:
            try:  # what other taplab processes recorded into this lab is removed too
                self.state.refresh()
            except (OSError, ValueError, TypeError):
                pass  # an unreadable record: tear down what this process knows
            teardown(self.state)
        finally:
            self.state = None
            self._release_terminals()
            for sig, handler in self._saved_handlers.items():
                signal.signal(sig, handler)

    def _release_terminals(self) -> None:
        """Close the pseudo-terminal Mininet opened for each node's shell: Mininet keeps
        both ends open after the shell ends (two descriptors per node, per lab)."""
        for node in self.net.values() if self.net else []:
            with contextlib.suppress(OSError, TypeError, AttributeError):
                node.stdin.close()  # the master end (stdout is the same file)
            with contextlib.suppress(OSError, TypeError, AttributeError):
                os.close(node.slave)
            node.stdin = node.stdout = node.slave = None

    # -- nodes and links ---------------------------------------------------
    def record_shell(self, node: Node) -> None:
        """Record the shell Mininet keeps for node (root-namespace nodes have one too)."""
        self.record(
            {
                "kind": "process",
                "pid": node.pid,
                "cmd": f"shell of {node}",
                "started": ProcessId.of(node.pid).started,
                "grace": 0.5,
            }
        )

    def _attach_netns(self, node: Node) -> None:
        self.record_shell(node)
        ns = f"{self.id}-{node}"
        run(["ip", "netns", "attach", ns, str(node.pid)])
        self.record({"kind": "netns", "name": ns})
        self.set_meta(nodes={**self.nodes, node.name: ns})

    def add_host(self, name: str, cls=Host, **params) -> Host:
        """A Mininet host in its own named namespace (a pod, a node, a router)."""
        params.setdefault("ip", None)
        host = self.net.addHost(name, cls=cls, **params)
        self._attach_netns(host)
        return host

    def add_switch(self, name: str, kind: str = "bridge", **params):
        """A switch: ``bridge`` (Linux bridge in its own namespace) or ``ovs``.

        OVS switches live in the root namespace, so their names are prefixed
        with the lab id; they use the kernel datapath when the kernel has one
        and the userspace datapath otherwise.
        """
        self._dpids += 1
        params.setdefault("dpid", f"{int(self.id[1:], 36):08x}{self._dpids:08x}")
        if kind == "bridge":
            switch = self.net.addSwitch(name, cls=NamespacedBridge, **params)
            self._attach_netns(switch)
            return switch
        if kind == "ovs":
            capabilities.require("ovs_user")
            if self.controller_apps is not None and not self.net.controllers:
                self._start_controller()
            datapath = "kernel" if capabilities.available("ovs_kernel") else "user"
            params.setdefault("protocols", OPENFLOW_VERSIONS)  # the app's OFP_VERSIONS decide
            params.setdefault("failMode", "secure" if self.net.controllers else "standalone")
            switch = self.net.addSwitch(
                self.root_name(name), cls=OVSSwitch, datapath=datapath, **params
            )
            self.record_shell(switch)
            self.record({"kind": "ovs_bridge", "name": switch.name})
            return switch
        raise UserError(f"unknown switch kind '{kind}': use bridge or ovs.")

    def _start_controller(self) -> None:
        from taplab.controllers import runtime

        port = runtime.start(self, self.controller_apps)
        controller = self.net.addController(
            self.root_name("c0"), controller=ListeningController, ip="127.0.0.1", port=port
        )
        self.record_shell(controller)

    def add_link(self, a: Node, b: Node, **params):
        """A veth link; a link with an end in the root namespace is recorded."""
        link = self.net.addLink(a, b, **params)
        for intf in (link.intf1, link.intf2):
            if not intf.node.inNamespace:
                self.record({"kind": "link", "name": intf.name})
            if self.net.built and hasattr(intf.node, "attach"):
                intf.node.attach(intf)
        return link

    def start(self) -> None:
        """Configure hosts and start switches (Mininet's build and start); with a
        controller of the lab's own, wait until every OVS switch is connected to it."""
        self.net.start()
        if self.controller_apps is not None and self.net.controllers:
            from taplab.controllers import runtime

            runtime.wait_connected(self)
        self.started = True

    def node(self, name: str) -> Node:
        """A node by name, with a clear error for an unknown one."""
        try:
            return self.net[name]
        except KeyError:
            known = ", ".join(sorted(n.name for n in self.net.hosts)) or "none"
            raise UserError(f"no node named '{name}' in this lab (nodes: {known}).") from None
