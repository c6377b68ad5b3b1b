"""The app under a real gunicorn (several worker processes, threads) on loopback, for load and crash tests.

`serve(database_url)` starts gunicorn in its own process group on a free port, waits until /healthz answers
and yields the base URL; `server.kill()` ends the whole group with SIGKILL, as a crash would.
gunicorn loads the app through `wsgi_app()`, which reads the database and settings from the environment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.loopback import free_port

ROOT = Path(__file__).resolve().parent.parent


def wsgi_app():
    """gunicorn's entry point: the testing app on the database the test passed, CSRF on as in production."""
    from app import create_app

    overrides = {"SQLALCHEMY_DATABASE_URI": os.environ["GUNICORN_TEST_DATABASE_URL"], "WTF_CSRF_ENABLED": True}
    overrides.update(json.loads(os.environ.get("GUNICORN_TEST_OVERRIDES", "{}")))
    return create_app("testing", overrides)


class Server:
    def __init__(self, database_url: str, workers: int, threads: int, overrides: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "GUNICORN_TEST_DATABASE_URL": database_url,
               "GUNICORN_TEST_OVERRIDES": json.dumps(overrides or {})}
        self.log = open(os.devnull, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
             "--worker-class", "gthread", "--threads", str(threads), "--timeout", "60", "--graceful-timeout", "1",
             "--preload",
             "tests.gunicorn_server:wsgi_app()"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not become ready")

    def kill(self) -> None:
        """SIGKILL to the master and every worker at once: nothing gets to clean up."""
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGINT)  # gunicorn's quick shutdown
                self.process.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                self.kill()
        self.log.close()


@contextmanager
def serve(database_url: str, workers: int = 2, threads: int = 8, overrides: dict | None = None):
    server = Server(database_url, workers, threads, overrides)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
