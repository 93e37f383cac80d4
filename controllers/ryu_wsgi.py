"""What ``ryu.app.wsgi`` names: Ryu's REST layer on webob and routes, served by a thread.

Apps declare ``_CONTEXTS = {"wsgi": WSGIApplication}``, then either decorate
controller methods with ``route`` and call ``wsgi.register(Controller, data)``, or
connect paths on ``wsgi.mapper`` and put their data in ``wsgi.registory`` (Ryu's
spelling). ``serve(app_manager)`` binds ``--wsapi-host``/``--wsapi-port``
(0.0.0.0:8080 as in Ryu) and answers from a thread; websockets are not supported::

    class Stats(ControllerBase):
        @route("stats", "/stats/{dpid}", methods=["GET"])
        def get(self, req, dpid, **_):
            return Response(json_body={"dpid": dpid})
"""

import inspect
import logging
import socketserver
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import webob
import webob.dec
import webob.exc
from os_ken import cfg
from routes import Mapper, URLGenerator

LOG = logging.getLogger("ryu.app.wsgi")
DEFAULT_WSGI_HOST = "0.0.0.0"
DEFAULT_WSGI_PORT = 8080
HEX_PATTERN = r"0x[0-9a-z]+"
DIGIT_PATTERN = r"[1-9][0-9]*"

cfg.CONF.register_cli_opts(
    [
        cfg.StrOpt("wsapi-host", default=DEFAULT_WSGI_HOST, help="webapp listen host"),
        cfg.IntOpt("wsapi-port", default=DEFAULT_WSGI_PORT, help="webapp listen port"),
    ]
)


def route(name: str, path: str, methods=None, requirements=None):
    """Mark a ControllerBase method as the handler of path (routes syntax)."""

    def mark(method):
        method.routing_info = {
            "name": name,
            "path": path,
            "methods": methods,
            "requirements": requirements,
        }
        return method

    return mark


class Request(webob.Request):
    """A webob request decoded as UTF-8."""

    def __init__(self, environ, *args, charset="UTF-8", **kwargs):
        super().__init__(environ, *args, charset=charset, **kwargs)


class Response(webob.Response):
    """A webob response encoded as UTF-8 (``Response(json_body=...)``, ``body=``, ``status=``)."""

    def __init__(self, *args, charset="UTF-8", **kwargs):
        super().__init__(*args, charset=charset, **kwargs)


class ControllerBase:
    """One request's handler object: ``req``, ``link`` (URL generator) and the app's ``data``."""

    special_vars = ["action", "controller"]

    def __init__(self, req, link, data, **config):
        self.req, self.link, self.data, self.parent = req, link, data, None
        for name, value in config.items():
            setattr(self, name, value)

    def __call__(self, req):
        action = self.req.urlvars.get("action", "index")
        if hasattr(self, "__before__"):
            self.__before__()
        kwargs = {k: v for k, v in self.req.urlvars.items() if k not in self.special_vars}
        return getattr(self, action)(req, **kwargs)


class WSGIApplication:
    """The ``wsgi`` context: a routes mapper from paths to ControllerBase classes."""

    def __init__(self, **config):
        self.config = config
        self.mapper = Mapper()
        self.registory: dict = {}

    @webob.dec.wsgify(RequestClass=Request)
    def __call__(self, req):
        match = self.mapper.match(environ=req.environ)
        if not match:
            return webob.exc.HTTPNotFound()
        req.urlvars = match
        controller_cls = match["controller"]
        controller = controller_cls(
            req,
            URLGenerator(self.mapper, req.environ),
            self.registory.get(controller_cls.__name__),
            **self.config,
        )
        controller.parent = self
        return controller(req)

    def register(self, controller, data=None) -> None:
        """Connect every ``route``-marked method of controller; data goes to each instance."""
        for action, method in inspect.getmembers(controller, inspect.isfunction):
            info = getattr(method, "routing_info", None)
            if info is None:
                continue
            conditions = {"method": info["methods"]} if info["methods"] else {}
            self.mapper.connect(
                info["name"],
                info["path"],
                controller=controller,
                action=action,
                conditions=conditions,
                requirements=info["requirements"] or {},
            )
        if data:
            self.registory[controller.__name__] = data


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self) -> None:
        # http.server looks up the host's FQDN here, which hangs where DNS does not answer.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
        self.setup_environ()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        LOG.debug("%s %s", self.address_string(), format % args)


def serve(app_manager) -> WSGIServer | None:
    """Bind and serve the ``wsgi`` context of app_manager, if an app declared one."""
    app = next((c for c in app_manager.contexts.values() if isinstance(c, WSGIApplication)), None)
    if app is None:
        return None
    server = _Server((cfg.CONF.wsapi_host, cfg.CONF.wsapi_port), _QuietHandler)
    server.set_app(app)
    threading.Thread(target=server.serve_forever, name="wsapi", daemon=True).start()
    LOG.info("wsapi listening on %s:%d", *server.server_address[:2])
    return server
