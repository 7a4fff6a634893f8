#!/usr/bin/env python3
# Writes the seed corpus of fuzz-host-protocol: one file per record type, encoded as
# src/core/hkp-host-protocol.c does, and a stream of several.  Usage: make-host-corpus.py DIR
import os
import struct
import sys

VERSION = 1


def u32(n):
    return struct.pack("<I", n)


def u64(n):
    return struct.pack("<Q", n)


def s(text):
    b = text.encode()
    return u32(len(b)) + b + b"\0"


def pairs(items):
    return u32(len(items)) + b"".join(s(k) + s(v) for k, v in items)


def checks(items):
    out = u32(len(items))
    for k, v in items:
        out += bytes([1]) + s(k) + u64(v) if isinstance(v, int) else bytes([0]) + s(k) + s(v)
    return out


def record(kind, payload):
    return u32(1 + len(payload)) + bytes([kind]) + payload


records = {
    "hello": record(1, u32(VERSION) + u32(512) + u32(1234) + u32(0) + s("ratelimit") +
                    s("/var/lib/hkp-plugind/modules/1-ratelimit.so") + s("/usr/lib/hkp-plugind/plugins/ratelimit.so") +
                    s('{"enabled": true}')),
    "request": record(2, u64(7) + s("GET") + s("/pks/lookup") + s("op=get&search=0x1234") + s("192.0.2.1") +
                      pairs([("Host", "keys.example"), ("X-Id", "7")])),
    "cancel": record(3, u64(7)),
    "cancel-all": record(4, b""),
    "health": record(5, u64(8)),
    "validate": record(6, u64(9) + s('{"verdict": "allow"}')),
    "shutdown": record(7, b""),
    "host-hello": record(32, u32(VERSION) + u32(4321)),
    "ready": record(33, s("ratelimit") + s("0.1.0") + s("Token buckets per client")),
    "failed": record(34, u32(6) + s("init failed: no key")),
    "answer": record(35, u64(7) + u32(2) + u32(429) + s("slow down") + pairs([("Retry-After", "7")])),
    "health-report": record(36, u64(8) + u32(1) + s("cache cold") + checks([("calls", 12), ("mode", "none")])),
    "validated": record(37, u64(9) + u32(0) + s('key "verdict" must be "allow"')),
    "log": record(38, u32(4) + s("hkp-ratelimit") + s("a warning")),
    "seccomp": record(39, u32(41) + u32(0xC000003E)),
    "hello-v2": record(1, u32(2) + b"anything at all"),
}
records["stream"] = records["host-hello"] + records["ready"] + records["answer"] + records["log"]

os.makedirs(sys.argv[1], exist_ok=True)
for name, data in records.items():
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        f.write(data)
