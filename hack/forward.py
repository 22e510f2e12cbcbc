#!/usr/bin/env python3
"""A TCP forwarder for the local cluster (standard library only):

    python3 hack/forward.py --listen 10.242.0.1:16443 --to 127.0.0.1:16443

- pods reach the API server (which listens on loopback only) through the real node's bridge
  address, as the `kubernetes` Service's endpoint;
- this machine reaches guided mode's entry point (Traefik's NodePort on the bridge) on a fixed
  loopback port, so that https://<workspace>.workspaces.localhost/ works in a browser.
Bytes are copied both ways; nothing is read or kept.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", required=True, help="host:port to listen on")
    parser.add_argument("--to", required=True, help="host:port to forward to")
    args = parser.parse_args()
    listen_host, listen_port = args.listen.rsplit(":", 1)
    to_host, to_port = args.to.rsplit(":", 1)

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(to_host, int(to_port))
        except OSError:
            client_w.close()
            return
        await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))

    server = await asyncio.start_server(handle, listen_host, int(listen_port), reuse_address=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
