"""A real IMAP server for tests: a private Dovecot on a free loopback port (see shared/recipes/dovecot-imap.md)."""

from __future__ import annotations

import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 100
namespace inbox {{
  inbox = yes
  mailbox Imported {{
    auto = create
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={d}/mail/%u
}}
"""


def available() -> bool:
    return Path(DOVECOT).exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ImapServer:
    def __init__(self, *, user: str = "support@example.com", password: str = "secret") -> None:
        # not under pytest's tmp_path: its parents are 0700, and Dovecot's own users must read the folder
        self.root = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-"))
        self.user, self.password = user, password
        self.port = _free_port()

    def __enter__(self) -> ImapServer:
        d = self.root
        for sub in ("run", "state", "mail"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "users").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        (d / "dovecot.conf").write_text(CONFIG.format(d=d, port=self.port))
        os.chmod(d, 0o755)  # noqa: S103 - Dovecot's unprivileged users read the config below it
        shutil.chown(d / "mail", "dovecot", "dovecot")
        subprocess.run([DOVECOT, "-c", str(d / "dovecot.conf")], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not start: {(d / 'dovecot.log').read_text(errors='replace')}")

    def __exit__(self, *exc: object) -> None:
        pid_file = self.root / "run" / "master.pid"
        if pid_file.exists():
            subprocess.run(["kill", pid_file.read_text().strip()], check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port)
        client.login(self.user, self.password)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            client.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
        finally:
            client.logout()

    def count(self, folder: str = "INBOX", criteria: str = "ALL") -> int:
        client = self.client()
        try:
            client.select(folder)
            _, data = client.search(None, criteria)
            return len(data[0].split())
        finally:
            client.logout()
