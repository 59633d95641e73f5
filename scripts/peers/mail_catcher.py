#!/usr/bin/env python3
"""A local mail catcher for scripts/run: an SMTP server on loopback that keeps each message in
DIR/NNNNN.eml and prints one line per message (recipient, subject, language).

    mail_catcher.py --port 2525 --dir var/mail
"""
import argparse
import email
import email.policy
import os
import signal
import sys
import threading

from aiosmtpd.controller import Controller


class Catcher:
    def __init__(self, directory):
        self.directory, self.count, self.lock = directory, 0, threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        with open(os.path.join(self.directory, "%05d.eml" % n), "wb") as f:
            f.write(envelope.content)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        customer = [r for r in envelope.rcpt_tos if not r.startswith("archive@")]
        print(f"mail {n}: to {', '.join(customer)} [{message['Content-Language']}] {message['Subject']}", flush=True)
        return "250 Message accepted"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--dir", default="var/mail")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(Catcher(args.dir), hostname="127.0.0.1", port=args.port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
