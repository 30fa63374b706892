"""`manage.py serve`: Django's development server (runserver, with static files) as `make run` serves the app,
its answers sent without Nagle's delay.

runserver writes a response's headers and its body in two sends on an unbuffered socket. With Nagle's algorithm
on, the body waits until the client acknowledges the headers, and a client that delays its acknowledgement (Linux
does, up to 40 ms) holds every answer back: at one annotator a verdict took 56 ms of which ~13 ms was the
server's work (bench/results/anchor-1cycle.json). TCP_NODELAY on each accepted connection sends the body at once,
as gunicorn does on its sockets. Every runserver option works here (`--noreload`, `--nostatic`, ...).
"""

from __future__ import annotations

import socket

from django.contrib.staticfiles.management.commands.runserver import Command as RunserverCommand
from django.core.servers.basehttp import WSGIServer


class NoDelayWSGIServer(WSGIServer):
    def get_request(self):
        connection, address = super().get_request()
        if connection.family in (socket.AF_INET, socket.AF_INET6):
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class Command(RunserverCommand):
    help = "Serves the app for `make run`: runserver (static files included), answers sent without Nagle's delay."
    server_cls = NoDelayWSGIServer
