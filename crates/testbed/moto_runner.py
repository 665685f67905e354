"""Starts a moto server on a free loopback port for one test process.

Prints "READY <port>" once it answers, then serves until its stdin closes, which happens when
the test process that started it exits, so no server outlives its tests.
"""
import socket
import sys

from moto.server import ThreadedMotoServer

sock = socket.socket()
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
sock.close()

server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
server.start()
print(f"READY {port}", flush=True)
sys.stdin.read()
server.stop()
