"""Finds where the TCG2 log in a raw CCEL area ends, for the benchmark scripts.

tpm2_eventlog (tpm2-tools 5.4) refuses a raw CCEL area: OVMF writes header pcrIndex 1 and the
area is padded after the last record. The benchmarks give it the normalized copy made here
(docs/eventlog-formats.md §9); acon-eventlog reads the raw area.
"""
import struct


def log_end(buf):
    """(first byte after the last TCG_PCR_EVENT2 record, records after the header): the log ends
    where 8 x 0xFF / 8 x 0x00 (or fewer, up to the end of the buffer) follow a record."""
    (spec_size,) = struct.unpack_from("<I", buf, 28)
    (n_algs,) = struct.unpack_from("<I", buf, 32 + 24)
    sizes = dict(struct.unpack_from("<HH", buf, 32 + 28 + 4 * i) for i in range(n_algs))
    pos, records = 32 + spec_size, 0
    while pos < len(buf):
        head = buf[pos:pos + 8]
        if head in (b"\xff" * len(head), b"\x00" * len(head)):
            break
        (count,) = struct.unpack_from("<I", buf, pos + 8)
        pos += 12
        for _ in range(count):
            (alg,) = struct.unpack_from("<H", buf, pos)
            pos += 2 + sizes[alg]
        (data_size,) = struct.unpack_from("<I", buf, pos)
        pos += 4 + data_size
        records += 1
    return pos, records


def normalized(buf):
    """The log up to log_end(), with header pcrIndex set to 0 (tpm2-tools requires 0)."""
    end, _ = log_end(buf)
    log = bytearray(buf[:end])
    log[0:4] = b"\0\0\0\0"
    return bytes(log)
