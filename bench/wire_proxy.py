#!/usr/bin/env python3
"""A loopback TCP proxy that counts the bytes clients send upstream (requests, after compression).

usage: wire_proxy.py LISTEN_PORT UPSTREAM_PORT COUNT_FILE
The running total is rewritten to COUNT_FILE every 0.5 s. Used by bench/compare.
"""
import asyncio
import sys

listen_port, upstream_port, count_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sent = 0


async def pipe(reader, writer, count):
    global sent
    try:
        while data := await reader.read(65536):
            if count:
                sent += len(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def handle(client_reader, client_writer):
    upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
    await asyncio.gather(pipe(client_reader, upstream_writer, True), pipe(upstream_reader, client_writer, False))


async def report():
    while True:
        with open(count_file, "w") as out:
            out.write(f"{sent}\n")
        await asyncio.sleep(0.5)


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    async with server:
        await asyncio.gather(server.serve_forever(), report())


asyncio.run(main())
