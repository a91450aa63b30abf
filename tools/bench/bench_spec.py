#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The benchmarks' service spec (tests/dataplane/spec.hpp reads it): NV VIPs
from BASE on, port 80, each with NB backends of its own and Maglev tables of
TS entries, forwarding MODE, protocol PROTO. NB may be a comma list: VIP k
gets its k-th number of backends, the last one for the VIPs past the list's
end (1,1000 with NV 2: 10.0.0.1 with 1 backend, 10.0.0.2 with 1000).

  bench_spec.py MODE PROTO NB NV TS [BASE]     (BASE: 10.0.0.1)
"""
import ipaddress
import json
import sys


def main(argv):
    if len(argv) not in (6, 7):
        sys.exit(__doc__)
    mode, proto = argv[1], argv[2]
    nbs, nv, ts = [int(x) for x in argv[3].split(",")], int(argv[4]), int(argv[5])
    if nv < 1 or ts < 1 or min(nbs) < 1:
        sys.exit("bench_spec.py: NB, NV and TS must be 1 or more")
    base = ipaddress.IPv4Address(argv[6] if len(argv) == 7 else "10.0.0.1")

    def backend(i):
        return {"addr": "10.1.%d.%d" % (i // 250, i % 250 + 1),
                "mac": "02:00:00:00:%02x:%02x" % (i // 256, i % 256)}

    def nb(k):
        return nbs[min(k, len(nbs) - 1)]

    first = [0]  # the backends of VIP k are numbered from first[k] on
    for k in range(nv):
        first.append(first[k] + nb(k))
    print(json.dumps({"seed": "5a1c3e0011223344556677889900aabb", "services": [
        {"vip": str(base + k), "port": 80, "proto": proto, "fwd": mode, "table_size": ts,
         "backends": [backend(first[k] + b) for b in range(nb(k))]} for k in range(nv)]}))


if __name__ == "__main__":
    main(sys.argv)
