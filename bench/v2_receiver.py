#!/usr/bin/env python3
"""A remote-write 2.0 receiver for bench/compare: decodes each request (snappy, then the
io.prometheus.write.v2.Request field numbers of proto/remote_v2.proto), counts its samples, and
answers 204 with X-Prometheus-Remote-Write-Samples-Written, as the spec asks of a 2.0 receiver.
No 2.0 receiver ships in Debian 12 (its Prometheus is 2.42).

usage: v2_receiver.py PORT COUNT_FILE
COUNT_FILE gets the running total of samples received, rewritten after each request.
"""
import http.server
import sys

port, count_file = int(sys.argv[1]), sys.argv[2]
received = 0


def varint(data, position):
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def snappy_block(data):
    """Snappy's block format: the uncompressed length, then literals and back-references."""
    length, position = varint(data, 0)
    out = bytearray()
    while position < len(data):
        tag = data[position]
        kind = tag & 3
        position += 1
        if kind == 0:
            size = tag >> 2
            if size >= 60:
                extra = size - 59
                size = int.from_bytes(data[position:position + extra], "little")
                position += extra
            size += 1
            out += data[position:position + size]
            position += size
            continue
        if kind == 1:
            size = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | data[position]
            position += 1
        else:
            width = 2 if kind == 2 else 4
            size = (tag >> 2) + 1
            offset = int.from_bytes(data[position:position + width], "little")
            position += width
        start = len(out) - offset
        if offset >= size:
            out += out[start:start + size]
        else:  # the copy overlaps what it writes: a repeating pattern
            for index in range(size):
                out.append(out[start + index])
    if len(out) != length:
        raise ValueError("snappy length mismatch")
    return bytes(out)


def fields(data):
    """(field number, wire type, value or bytes) of one protobuf message."""
    position = 0
    while position < len(data):
        key, position = varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = varint(data, position)
        elif wire == 1:
            value, position = data[position:position + 8], position + 8
        elif wire == 2:
            size, position = varint(data, position)
            value, position = data[position:position + size], position + size
        elif wire == 5:
            value, position = data[position:position + 4], position + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield number, wire, value


def samples_in(request):
    """Request.timeseries (5), each TimeSeries.samples (2)."""
    return sum(1 for number, _, series in fields(request) if number == 5
               for inner, _, _ in fields(series) if inner == 2)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global received
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            if self.headers.get("Content-Type") != "application/x-protobuf;proto=io.prometheus.write.v2.Request":
                raise ValueError("not a 2.0 request")
            count = samples_in(snappy_block(body))
        except (ValueError, IndexError) as error:
            self.send_response(400)
            message = str(error).encode()
            self.send_header("Content-Length", str(len(message)))
            self.end_headers()
            self.wfile.write(message)
            return
        received += count
        with open(count_file, "w") as out:
            out.write(f"{received}\n")
        self.send_response(204)
        self.send_header("X-Prometheus-Remote-Write-Samples-Written", str(count))
        self.send_header("X-Prometheus-Remote-Write-Histograms-Written", "0")
        self.send_header("X-Prometheus-Remote-Write-Exemplars-Written", "0")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_):
        pass


with open(count_file, "w") as out:
    out.write("0\n")
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
