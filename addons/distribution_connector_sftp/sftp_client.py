"""The SFTP side of the file transport: one connection per poll or upload,
the server's host key compared with the key pinned on the backend before
any credential is sent.

Pure transport: it knows folders, names and bytes, never exchanges or
backends (``models/distribution_backend.py`` does).
"""

import hashlib
import io
import posixpath
import socket
import stat

import paramiko

from odoo.addons.distribution_connector.errors import PermanentError, TransientError

#: suffix of a file being uploaded; pollers skip names ending with it
PARTIAL_SUFFIX = ".part"
UPLOAD_CHUNK = 32 * 1024
KEY_CLASSES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)


class HostKeyRefused(PermanentError):
    """The server's key is not the pinned one (or none is pinned)."""


def file_digest(data):
    return hashlib.sha256(data).hexdigest()


def file_event_id(name, data):
    """What makes a file the same file: name, size and digest."""
    return f"file:{name}:{len(data)}:{file_digest(data)}"


def parse_host_key(text):
    """``(type, base64)`` of a pinned key written as in ``known_hosts`` or
    ``ssh-keyscan`` output (an optional host first, a comment after)."""
    parts = (text or "").split()
    for index, part in enumerate(parts):
        if part.startswith(("ssh-", "ecdsa-")) and index + 1 < len(parts):
            return part, parts[index + 1]
    return None, None


def load_private_key(text, passphrase=None):
    for key_class in KEY_CLASSES:
        try:
            return key_class.from_private_key(io.StringIO(text), password=passphrase)
        except (paramiko.SSHException, ValueError):
            continue
    raise PermanentError(
        "The SFTP private key is not an Ed25519, ECDSA or RSA key in OpenSSH "
        "or PEM format (or its passphrase is wrong).",
        kind="sftp_credentials",
    )


class SftpClient:
    """``with SftpClient(...) as client:`` an authenticated SFTP session."""

    def __init__(
        self,
        host,
        port,
        username,
        host_key,
        password=None,
        private_key=None,
        timeout=30,
    ):
        self.host = host
        self.port = port or 22
        self.username = username
        self.host_key = host_key
        self.password = password
        self.private_key = private_key
        self.timeout = timeout
        self._transport = None
        self.sftp = None

    # -- connection ---------------------------------------------------------------

    def __enter__(self):
        self.connect()
        return self

    def __exit__(self, *exc):
        self.close()

    def connect(self):
        pinned_type, pinned_key = parse_host_key(self.host_key)
        if not pinned_key:
            raise HostKeyRefused(
                f"No host key is pinned for {self.host}: paste the server's "
                "public key (ssh-keyscan output) on the backend.",
                kind="sftp_host_key",
            )
        try:
            sock = socket.create_connection((self.host, self.port), self.timeout)
            self._transport = paramiko.Transport(sock)
            if pinned_type:
                # ask for the pinned key's type, not whatever the server prefers
                self._transport.get_security_options().key_types = [pinned_type]
            self._transport.start_client(timeout=self.timeout)
        except (OSError, paramiko.SSHException) as err:
            self.close()
            raise TransientError(
                f"SFTP server {self.host}:{self.port} not reachable: {err}"
            ) from err
        offered = self._transport.get_remote_server_key()
        if (offered.get_name(), offered.get_base64()) != (pinned_type, pinned_key):
            self.close()
            raise HostKeyRefused(
                f"The SFTP server {self.host}:{self.port} offered an unknown host "
                f"key ({offered.get_name()} {offered.fingerprint}): refused.",
                kind="sftp_host_key",
            )
        try:
            if self.private_key:
                self._transport.auth_publickey(
                    self.username, load_private_key(self.private_key, self.password)
                )
            else:
                self._transport.auth_password(self.username, self.password or "")
        except paramiko.AuthenticationException as err:
            self.close()
            raise PermanentError(
                f"SFTP login refused for {self.username}@{self.host}.",
                kind="sftp_credentials",
            ) from err
        self.sftp = paramiko.SFTPClient.from_transport(self._transport)
        return self

    def close(self):
        # after a dropped connection too: closing what is gone is not an error
        if self._transport:
            self._transport.close()
        self.sftp = None
        self._transport = None

    # -- inbound -----------------------------------------------------------------

    def list_files(self, folder):
        """Names of the complete regular files of a folder, oldest first."""
        entries = [
            entry
            for entry in self.sftp.listdir_attr(folder)
            if stat.S_ISREG(entry.st_mode or 0)
            and not entry.filename.startswith(".")
            and not entry.filename.endswith(PARTIAL_SUFFIX)
        ]
        entries.sort(key=lambda entry: (entry.st_mtime or 0, entry.filename))
        return [entry.filename for entry in entries]

    def read_file(self, path):
        with self.sftp.open(path, "rb") as remote:
            remote.prefetch()
            return remote.read()

    def archive(self, path, folder):
        """Move a file into the archive folder; a name taken there already
        (the same name sent again later) gets a numbered name."""
        name = posixpath.basename(path)
        target = posixpath.join(folder, name)
        number = 1
        while self.exists(target):
            target = posixpath.join(folder, f"{name}.{number}")
            number += 1
        self.sftp.posix_rename(path, target)
        return target

    def exists(self, path):
        try:
            self.sftp.stat(path)
        except FileNotFoundError:
            return False
        return True

    # -- outbound ----------------------------------------------------------------

    def upload(self, folder, name, data):
        """Write ``data`` as ``folder/name``, complete or not at all.

        Written under a temporary name of its own (the same for every retry of
        this file, so an interrupted attempt leaves nothing a retry does not
        overwrite), then renamed in one step. A retry finding the file already
        complete with these bytes does nothing.

        :return: True when written, False when it was there already
        """
        target = posixpath.join(folder, name)
        if self.exists(target) and file_digest(self.read_file(target)) == file_digest(
            data
        ):
            return False
        partial = posixpath.join(folder, f".{name}{PARTIAL_SUFFIX}")
        try:
            with self.sftp.open(partial, "wb") as remote:
                for start in range(0, len(data), UPLOAD_CHUNK):
                    remote.write(data[start : start + UPLOAD_CHUNK])
            if self.sftp.stat(partial).st_size != len(data):
                raise OSError(f"{partial} is shorter than what was written")
            self.sftp.posix_rename(partial, target)
        except (OSError, EOFError, paramiko.SSHException) as err:
            raise TransientError(
                f"SFTP upload of {name} to {self.host} interrupted ({err}): "
                "retried, the partial file is overwritten."
            ) from err
        return True
