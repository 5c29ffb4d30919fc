"""A real SFTP server on 127.0.0.1 for the tests (asyncssh, in a thread of
its own), serving a temporary folder; it can drop a connection in the middle
of a write, as a network does, and counts authentication attempts."""

import asyncio
import os
import shutil
import tempfile
import threading

import asyncssh

USERNAME = "partner"
PASSWORD = "sftp-password-0123456789"


def new_host_key():
    key = asyncssh.generate_private_key("ssh-ed25519")
    return key, key.export_public_key().decode().strip()


class SftpTestServer:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="distribution-sftp-")
        self.host_key, self.host_key_line = new_host_key()
        #: drop the connection once a write reaches this offset (then reset)
        self.abort_writes_at = None
        self.auth_attempts = []
        self.port = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._listener = None

    def reset(self, *folders):
        """Empty the served folder, then make these folders in it."""
        for name in os.listdir(self.root):
            shutil.rmtree(self.path(name), ignore_errors=True)
            if os.path.exists(self.path(name)):
                os.remove(self.path(name))
        for folder in folders:
            os.makedirs(self.path(folder))
        self.abort_writes_at = None

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def start(self):
        self._thread.start()
        self._listener = asyncio.run_coroutine_threadsafe(
            self._listen(), self._loop
        ).result(10)
        self.port = self._listener.sockets[0].getsockname()[1]
        return self

    def stop(self):
        async def _close():
            self._listener.close()
            await self._listener.wait_closed()

        asyncio.run_coroutine_threadsafe(_close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        shutil.rmtree(self.root, ignore_errors=True)

    async def _listen(self):
        server = self

        class Auth(asyncssh.SSHServer):
            def begin_auth(self, username):
                return True

            def password_auth_supported(self):
                return True

            def validate_password(self, username, password):
                server.auth_attempts.append(username)
                return (username, password) == (USERNAME, PASSWORD)

        class Files(asyncssh.SFTPServer):
            def __init__(self, chan):
                self._connection = chan.get_extra_info("connection")
                super().__init__(chan, chroot=server.root.encode())

            def write(self, file_obj, offset, data):
                limit = server.abort_writes_at
                if limit is not None and offset + len(data) >= limit:
                    server.abort_writes_at = None
                    self._connection.abort()
                    raise asyncssh.SFTPFailure("connection lost")
                return super().write(file_obj, offset, data)

        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[self.host_key],
            server_factory=Auth,
            sftp_factory=Files,
        )
