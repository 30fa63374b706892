"""`manage.py serve` (what `make run` starts) sends each answer without waiting for the client's acknowledgement."""

import socket
import threading

from lima_site.management.commands.serve import Command, NoDelayWSGIServer


def test_each_accepted_connection_has_nagle_off():
    from django.core.servers.basehttp import WSGIRequestHandler

    server = NoDelayWSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    try:
        accepted = {}
        thread = threading.Thread(target=lambda: accepted.setdefault("pair", server.get_request()))
        thread.start()
        with socket.create_connection(server.server_address):
            thread.join(timeout=30)
            connection, _ = accepted["pair"]
            assert connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
            connection.close()
    finally:
        server.server_close()


def test_django_s_own_server_leaves_it_on_and_serve_uses_ours():
    """The control: runserver's server class leaves Nagle on, so the option above is what serve adds."""
    from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer

    server = WSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    try:
        with socket.create_connection(server.server_address):
            connection, _ = server.get_request()
            assert connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
            connection.close()
    finally:
        server.server_close()
    assert Command.server_cls is NoDelayWSGIServer
