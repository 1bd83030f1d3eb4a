#!/usr/bin/env python3
"""Print what an x86_64 L1 QEMU's vCPUs are doing, through its human monitor on a socket.

usage: monitor-dump.py SOCKET [SMP]

For an L1 whose console went silent: `info cpus`, every vCPU's registers, ten samples of
each vCPU's RIP, the instructions there and the top of each stack, so where a stopped L1
was can be read after QEMU is gone. Also IDT vectors 0 and 14: their handlers
(asm_exc_divide_error, asm_exc_page_fault) minus those symbols' addresses in the kernel's
System.map (Debian: the linux-image-*-dbg package) give the KASLR offset to name the RIPs.
Exit status 1 when the monitor does not answer.
"""
import re
import socket
import sys
import time

PROMPT = b"(qemu) "


def talk(sock, command):
    """Send one command and return its output, up to the next prompt."""
    if command is not None:
        sock.sendall(command.encode() + b"\n")
    data = b""
    while not data.endswith(PROMPT):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    text = data.decode(errors="replace").replace("\r", "")
    if text.endswith(PROMPT.decode()):
        text = text[: -len(PROMPT)]
    # The monitor echoes the command line (with terminal escapes): drop that line.
    return text.split("\n", 1)[1] if command is not None and "\n" in text else text


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    cpus = int(sys.argv[2]) if len(sys.argv) == 3 else 2
    # Twice: the monitor has once closed a first connection halfway through the registers.
    for attempt in (1, 2):
        try:
            dump(sys.argv[1], cpus)
            return 0
        except OSError as err:
            print("monitor-dump: %s: %s (try %d of 2)" % (sys.argv[1], err, attempt))
    return 1


def dump(path, cpus):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(path)
    talk(sock, None)  # the banner
    print("== info cpus\n" + talk(sock, "info cpus"))
    print("== info registers -a\n" + talk(sock, "info registers -a"))
    print("== RIP samples, 0.2 s apart")
    for _ in range(10):
        print(" ".join(re.findall(r"RIP=[0-9a-f]+", talk(sock, "info registers -a"))))
        time.sleep(0.2)
    print("== IDT vectors 0 and 14\n" + talk(sock, "x/2gx 0xfffffe0000000000") +
          talk(sock, "x/2gx 0xfffffe00000000e0"))
    for cpu in range(cpus):
        talk(sock, "cpu %d" % cpu)
        print("== cpu %d: x/12i $pc\n" % cpu + talk(sock, "x/12i $pc"))
        # The monitor knows no $rsp (only the 32-bit $esp): the stack pointer from its registers.
        rsp = re.search(r"RSP=([0-9a-f]+)", talk(sock, "info registers"))
        if rsp:
            print("== cpu %d: x/32gx RSP\n" % cpu + talk(sock, "x/32gx 0x" + rsp.group(1)))
    sock.close()

if __name__ == "__main__":
    sys.exit(main())
