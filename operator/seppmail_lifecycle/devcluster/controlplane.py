"""Running the local control plane: etcd, kube-apiserver and kube-controller-manager on loopback.

``ControlPlane`` owns the processes and everything in its state directory:

* ``pki/``: the CA, serving certificates, service-account keys and the admin client certificate;
* ``etcd/``: etcd's data (fresh on every start: each start is a new, empty cluster);
* ``admin.kubeconfig`` (user ``admin`` in ``system:masters``) and ``kubeconfigs/`` for identities
  minted with ``mint_kubeconfig`` so RBAC can be exercised as ordinary users;
* ``etcd.log``, ``kube-apiserver.log``, ``kube-controller-manager.log``;
* ``state.json``: PIDs, ports and paths, so that a later process can find and stop a cluster it
  did not start (``make cluster-up`` and ``make cluster-down`` run in different processes).

The API server authenticates with client certificates only and authorizes with RBAC, as a real
cluster does. The controller manager runs only the controllers that make the API behave like a
real cluster for an operator: namespace deletion, garbage collection and ClusterRole aggregation.
There are no nodes, so nothing ever runs a pod.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from seppmail_lifecycle.devcluster import pki
from seppmail_lifecycle.devcluster.binaries import Binaries, ensure_binaries

STATE_FILE = "state.json"
ADMIN_KUBECONFIG = "admin.kubeconfig"
CLUSTER_NAME = "devcluster"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"

# namespace + garbage-collector make deletes finish as in a real cluster. The aggregation
# controller fills the built-in admin/edit/view ClusterRoles (and any chart role labelled
# aggregate-to-*): the API server creates them with an aggregation rule and no rules of their own.
CONTROLLERS = ("namespace-controller", "garbage-collector-controller", "clusterrole-aggregation-controller")

# A first start after a build, on a small machine, takes a while; a healthy one takes seconds.
DEFAULT_START_TIMEOUT = 180.0
DEFAULT_STOP_TIMEOUT = 15.0
_POLL_INTERVAL = 0.25
_LOG_TAIL_LINES = 40

# What the state directory holds; `remove_state_dir` deletes only these, never anything else a
# mistyped --state-dir might point at.
_OWNED_ENTRIES = (
    STATE_FILE,
    f".{STATE_FILE}.partial",
    ADMIN_KUBECONFIG,
    "kube-controller-manager.kubeconfig",
    "pki",
    "etcd",
    "kubeconfigs",
    "kubectl-cache",
    "etcd.log",
    "kube-apiserver.log",
    "kube-controller-manager.log",
)


class KubectlError(subprocess.CalledProcessError):
    """kubectl exited non-zero; its message names what kubectl printed, not only the exit code."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nkubectl said: {(self.stderr or '').strip() or '(nothing on stderr)'}"


class ControlPlaneError(RuntimeError):
    """The control plane failed to start, or its state directory is unusable."""


@dataclass
class _Process:
    name: str
    pid: int
    executable: str
    # Set only in the process that started it; a loaded ControlPlane knows just the PID.
    popen: subprocess.Popen[bytes] | None = None


def _free_ports(count: int) -> list[int]:
    """Distinct free loopback ports. All sockets are held open until every port is picked, so the
    kernel cannot hand out the same one twice; something else could still grab one before our
    process binds it, but on a developer machine that race is theoretical."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _write_private(path: Path, data: bytes) -> None:
    """Write a file only the current user can read: keys and kubeconfigs are credentials."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _kubeconfig(server: str, ca_pem: bytes, client: pki.KeyPair, user: str) -> bytes:
    context = CLUSTER_NAME if user == "admin" else f"{user}@{CLUSTER_NAME}"
    # Credentials are embedded, so the file stays valid wherever it is copied.
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER_NAME, "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)}}],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(client.cert_pem),
                    "client-key-data": _b64(client.key_pem),
                },
            }
        ],
        "contexts": [{"name": context, "context": {"cluster": CLUSTER_NAME, "user": user}}],
        "current-context": context,
    }
    return yaml.safe_dump(config, sort_keys=False).encode()


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def _log_tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        content = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"(no log at {path})"
    return f"--- last {min(lines, len(content))} lines of {path} ---\n" + "\n".join(content[-lines:])


def _pid_alive(pid: int, executable: str) -> bool:
    """Whether ``pid`` is still the process we started, for a process that is not our child.

    PIDs are reused, so on Linux the command line must still name our executable; a zombie
    (exited, not yet reaped by its new parent) counts as gone.
    """
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        # PermissionError: the PID now belongs to another user's process, so not ours.
        return False
    proc = Path(f"/proc/{pid}")
    if not proc.exists():
        return True  # no procfs (macOS): trust the PID
    try:
        stat = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        return False
    return bool(cmdline) and Path(os.fsdecode(cmdline[0])).name == Path(executable).name


class ControlPlane:
    """etcd, kube-apiserver and (when built) kube-controller-manager, owned through ``state_dir``.

    Use ``ControlPlane.started(state_dir)`` as a context manager in tests; ``start(detach=True)``
    for a cluster that outlives this process, later found again with ``ControlPlane.load``.
    """

    def __init__(self, state_dir: Path, binaries: Binaries) -> None:
        self.state_dir = Path(state_dir).absolute()
        self.binaries = binaries
        self.ports: dict[str, int] = {}
        self._processes: list[_Process] = []

    # ----------------------------------------------------------------- paths and addresses

    @property
    def admin_kubeconfig(self) -> Path:
        return self.state_dir / ADMIN_KUBECONFIG

    @property
    def server(self) -> str:
        """The API server's URL, ``https://127.0.0.1:<port>``."""
        return f"https://127.0.0.1:{self.ports['kube-apiserver']}"

    @property
    def pki_dir(self) -> Path:
        return self.state_dir / "pki"

    @property
    def pids(self) -> dict[str, int]:
        return {process.name: process.pid for process in self._processes}

    def log_path(self, component: str) -> Path:
        return self.state_dir / f"{component}.log"

    # ----------------------------------------------------------------- lifecycle

    @classmethod
    @contextlib.contextmanager
    def started(
        cls,
        state_dir: Path,
        binaries: Binaries | None = None,
        *,
        timeout: float = DEFAULT_START_TIMEOUT,
    ) -> Iterator[ControlPlane]:
        """A running control plane for the duration of the ``with`` block."""
        plane = cls(state_dir, binaries if binaries is not None else ensure_binaries())
        plane.start(timeout=timeout)
        try:
            yield plane
        finally:
            plane.stop()

    @classmethod
    def load(cls, state_dir: Path) -> ControlPlane:
        """The control plane recorded in ``state_dir`` by an earlier ``start``, maybe in another process.

        Raises FileNotFoundError when there is no state file. The processes may have died since;
        check ``is_running``/``is_healthy``.
        """
        state_dir = Path(state_dir).absolute()
        state = json.loads((state_dir / STATE_FILE).read_text())
        found = state["binaries"]

        def optional(key: str) -> Path | None:
            return Path(found[key]) if found.get(key) else None

        binaries = Binaries(
            etcd=Path(found["etcd"]),
            kube_apiserver=Path(found["kube_apiserver"]),
            kube_controller_manager=optional("kube_controller_manager"),
            kubectl=Path(found["kubectl"]),
            helm=optional("helm"),
        )
        plane = cls(state_dir, binaries)
        plane.ports = {name: int(port) for name, port in state["ports"].items()}
        plane._processes = [
            _Process(entry["name"], int(entry["pid"]), entry["executable"]) for entry in state["processes"]
        ]
        return plane

    def start(self, *, detach: bool = False, timeout: float = DEFAULT_START_TIMEOUT) -> None:
        """Start a fresh, empty cluster and wait until it serves requests.

        ``detach=True`` puts the processes in their own session, so they survive this process
        and a Ctrl-C in its terminal. On failure everything already started is stopped again and
        the error carries the tail of the failing component's log.
        """
        if self._processes:
            raise ControlPlaneError(f"control plane in {self.state_dir} is already started")
        # Overwriting the state of a live cluster would leave its processes impossible to find.
        with contextlib.suppress(FileNotFoundError):
            if ControlPlane.load(self.state_dir).is_running():
                raise ControlPlaneError(f"a control plane recorded in {self.state_dir} is still running; stop it first")
        deadline = time.monotonic() + timeout
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # A previous cluster's etcd data would bring back its objects, signed with other keys.
        shutil.rmtree(self.state_dir / "etcd", ignore_errors=True)
        etcd_client, etcd_peer, apiserver, controller_manager = _free_ports(4)
        self.ports = {
            "etcd-client": etcd_client,
            "etcd-peer": etcd_peer,
            "kube-apiserver": apiserver,
            "kube-controller-manager": controller_manager,
        }
        self._write_credentials()
        # Written before any process starts, so `stop_from_state` can clean up after a crash.
        self._save_state()
        try:
            etcd = self._spawn("etcd", self._etcd_args(), detach)
            self._wait(etcd, "etcd /health", self._etcd_healthy, deadline)
            kube_apiserver = self._spawn("kube-apiserver", self._apiserver_args(), detach)
            self._wait(kube_apiserver, "kube-apiserver /readyz", self.is_ready, deadline)
            self._wait(kube_apiserver, "`kubectl get namespace default`", self._default_namespace, deadline)
            if self.binaries.kube_controller_manager is not None:
                manager = self._spawn("kube-controller-manager", self._controller_manager_args(), detach)
                self._wait(manager, "kube-controller-manager /healthz", self._controller_manager_healthy, deadline)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        """Stop the processes, newest first: SIGTERM, then SIGKILL after ``timeout`` seconds.

        The API server goes before etcd so it does not spend its last seconds retrying a dead
        backend; processes that are already gone are skipped.
        """
        for process in reversed(self._processes):
            _terminate(process, timeout)
        self._processes = []
        if (self.state_dir / STATE_FILE).exists():
            self._save_state()

    def kill(self, component: str) -> None:
        """SIGKILL one component ("etcd", "kube-apiserver"), as a crash would; ``revive`` brings it back."""
        process = next(p for p in self._processes if p.name == component)
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        while _alive(process):
            time.sleep(0.05)

    def revive(self, component: str, timeout: float = DEFAULT_START_TIMEOUT) -> None:
        """Start a killed component again with its arguments, data and port; wait until it serves."""
        index, process = next((i, p) for i, p in enumerate(self._processes) if p.name == component)
        if _alive(process):
            raise ControlPlaneError(f"{component} is still running")
        args, probe = {
            "etcd": (self._etcd_args, self._etcd_healthy),
            "kube-apiserver": (self._apiserver_args, self.is_ready),
        }[component]
        with self.log_path(component).open("ab") as output:  # appended: the crash stays in the log
            popen = subprocess.Popen(
                args(), stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, cwd=self.state_dir
            )
        revived = _Process(component, popen.pid, process.executable, popen)
        self._processes[index] = revived
        self._save_state()
        self._wait(revived, f"{component} back", probe, time.monotonic() + timeout)

    def is_running(self) -> bool:
        """Whether every recorded process is still alive."""
        return bool(self._processes) and all(_alive(process) for process in self._processes)

    def is_ready(self) -> bool:
        """Whether the API server answers ``/readyz`` with 200 (one attempt, no retries)."""
        return _get(f"{self.server}/readyz", self._admin_tls()) == b"ok"

    def is_healthy(self) -> bool:
        """Whether all processes run and the API server is ready."""
        return self.is_running() and self.is_ready()

    # ----------------------------------------------------------------- identities

    def mint_kubeconfig(self, user: str, groups: Sequence[str] = ()) -> Path:
        """Write a kubeconfig authenticating as ``user`` in ``groups``; return its path.

        The client certificate is signed by the cluster CA, so RBAC applies to this identity
        exactly as it would to a real user. The file name is derived from user and groups.
        """
        ca = self._ca()
        name = _safe_name(user) + "".join(f"+{_safe_name(group)}" for group in groups)
        path = self.state_dir / "kubeconfigs" / f"{name}.kubeconfig"
        _write_private(path, _kubeconfig(self.server, ca.cert_pem, pki.client_cert(ca, user, groups), user))
        return path

    def kubectl(
        self,
        *args: str,
        kubeconfig: Path | None = None,
        input: str | None = None,
        check: bool = True,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster (as admin unless ``kubeconfig`` says otherwise)."""
        env = dict(os.environ)
        env.pop("KUBECONFIG", None)
        # Its own discovery cache: ports are reused between clusters whose APIs differ.
        env["KUBECACHEDIR"] = str(self.state_dir / "kubectl-cache")
        result = subprocess.run(
            [str(self.binaries.kubectl), f"--kubeconfig={kubeconfig or self.admin_kubeconfig}", *args],
            env=env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode:
            raise KubectlError(result.returncode, result.args, output=result.stdout, stderr=result.stderr)
        return result

    # ----------------------------------------------------------------- internals

    def _ca(self) -> pki.KeyPair:
        return pki.KeyPair(
            key_pem=(self.pki_dir / "ca.key").read_bytes(), cert_pem=(self.pki_dir / "ca.crt").read_bytes()
        )

    def _write_credentials(self) -> None:
        ca = pki.generate_ca()
        files: dict[str, bytes] = {"ca.crt": ca.cert_pem, "ca.key": ca.key_pem}
        pairs = {
            "apiserver": pki.serving_cert(ca),
            "kube-controller-manager-serving": pki.serving_cert(ca, ("127.0.0.1", "localhost")),
            "admin": pki.client_cert(ca, "admin", ["system:masters"]),
            # The built-in system:kube-controller-manager role may only list and watch most
            # resources: real clusters run each controller under its own service account
            # (--use-service-account-credentials), which needs the token machinery we leave out.
            # The namespace and garbage collectors must delete anything, hence system:masters.
            "kube-controller-manager": pki.client_cert(ca, "system:kube-controller-manager", ["system:masters"]),
        }
        for name, pair in pairs.items():
            files[f"{name}.crt"] = pair.cert_pem
            files[f"{name}.key"] = pair.key_pem
        signing = pki.service_account_keys()
        files["service-account.key"] = signing.private_pem
        files["service-account.pub"] = signing.public_pem
        for filename, data in files.items():
            _write_private(self.pki_dir / filename, data)
        _write_private(self.admin_kubeconfig, _kubeconfig(self.server, ca.cert_pem, pairs["admin"], "admin"))
        manager = pairs["kube-controller-manager"]
        _write_private(
            self.state_dir / "kube-controller-manager.kubeconfig",
            _kubeconfig(self.server, ca.cert_pem, manager, "system:kube-controller-manager"),
        )

    def _save_state(self) -> None:
        manager = self.binaries.kube_controller_manager
        helm = self.binaries.helm
        state = {
            "server": self.server,
            "kubeconfig": str(self.admin_kubeconfig),
            "ports": self.ports,
            "processes": [
                {"name": process.name, "pid": process.pid, "executable": process.executable}
                for process in self._processes
            ],
            "binaries": {
                "etcd": str(self.binaries.etcd),
                "kube_apiserver": str(self.binaries.kube_apiserver),
                "kube_controller_manager": str(manager) if manager else None,
                "kubectl": str(self.binaries.kubectl),
                "helm": str(helm) if helm else None,
            },
        }
        # Replace atomically: a concurrent `status` must never read half a file.
        partial = self.state_dir / f".{STATE_FILE}.partial"
        partial.write_text(json.dumps(state, indent=2) + "\n")
        partial.replace(self.state_dir / STATE_FILE)

    def _spawn(self, name: str, args: list[str], detach: bool) -> _Process:
        log = self.log_path(name)
        # Truncated: each start is a new cluster, and a failure's log tail must be this run's.
        with log.open("wb") as output:
            popen = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.state_dir,
                start_new_session=detach,
            )
        process = _Process(name, popen.pid, args[0], popen)
        self._processes.append(process)
        self._save_state()
        return process

    def _wait(self, process: _Process, what: str, probe: Callable[[], bool], deadline: float) -> None:
        while True:
            if not _alive(process):
                code = process.popen.returncode if process.popen is not None else None
                raise ControlPlaneError(
                    f"{process.name} exited (code {code}) before {what} succeeded\n"
                    + _log_tail(self.log_path(process.name))
                )
            if probe():
                return
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"timed out waiting for {what}\n" + _log_tail(self.log_path(process.name)))
            time.sleep(_POLL_INTERVAL)

    # etcd

    def _etcd_args(self) -> list[str]:
        client = f"http://127.0.0.1:{self.ports['etcd-client']}"
        peer = f"http://127.0.0.1:{self.ports['etcd-peer']}"
        args = [
            str(self.binaries.etcd),
            "--name=devcluster",
            f"--data-dir={self.state_dir / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=devcluster={peer}",
            "--initial-cluster-state=new",
        ]
        if _supports_flag(self.binaries.etcd, "--unsafe-no-fsync"):
            # Throwaway data: durability buys nothing and fsync dominates write latency.
            args.append("--unsafe-no-fsync")
        return args

    def _etcd_healthy(self) -> bool:
        body = _get(f"http://127.0.0.1:{self.ports['etcd-client']}/health")
        try:
            return body is not None and bool(json.loads(body).get("health") == "true")
        except ValueError:
            return False

    # kube-apiserver

    def _apiserver_args(self) -> list[str]:
        pki_dir = self.pki_dir
        return [
            str(self.binaries.kube_apiserver),
            f"--etcd-servers=http://127.0.0.1:{self.ports['etcd-client']}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.ports['kube-apiserver']}",
            f"--tls-cert-file={pki_dir / 'apiserver.crt'}",
            f"--tls-private-key-file={pki_dir / 'apiserver.key'}",
            f"--client-ca-file={pki_dir / 'ca.crt'}",
            "--authorization-mode=RBAC",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={pki_dir / 'service-account.pub'}",
            f"--service-account-signing-key-file={pki_dir / 'service-account.key'}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            # The ServiceAccount admission plugin insists on a token controller we do not run.
            "--disable-admission-plugins=ServiceAccount",
            "--allow-privileged=true",
            # The `kubernetes` Service's endpoints would be 127.0.0.1, which Endpoints validation
            # rejects as loopback; the reconciler would log that error every ten seconds.
            "--endpoint-reconciler-type=none",
            # Anything the API server would generate goes into the state dir, not the CWD.
            f"--cert-dir={pki_dir / 'kube-apiserver'}",
        ]

    def _admin_tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.pki_dir / "ca.crt"))
        context.load_cert_chain(str(self.pki_dir / "admin.crt"), str(self.pki_dir / "admin.key"))
        return context

    def _default_namespace(self) -> bool:
        try:
            return self.kubectl("get", "namespace", "default", check=False, timeout=20).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    # kube-controller-manager

    def _controller_manager_args(self) -> list[str]:
        assert self.binaries.kube_controller_manager is not None
        kubeconfig = self.state_dir / "kube-controller-manager.kubeconfig"
        return [
            str(self.binaries.kube_controller_manager),
            f"--kubeconfig={kubeconfig}",
            # Delegated authn/authz for its own endpoints (/healthz is always allowed anyway).
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            # Otherwise it reads the front-proxy CA from kube-system/extension-apiserver-authentication
            # and, as our API server has no front proxy, logs an error about it again and again.
            "--authentication-skip-lookup=true",
            f"--controllers={','.join(CONTROLLERS)}",
            "--leader-elect=false",
            "--use-service-account-credentials=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.ports['kube-controller-manager']}",
            f"--tls-cert-file={self.pki_dir / 'kube-controller-manager-serving.crt'}",
            f"--tls-private-key-file={self.pki_dir / 'kube-controller-manager-serving.key'}",
        ]

    def _controller_manager_healthy(self) -> bool:
        context = ssl.create_default_context(cafile=str(self.pki_dir / "ca.crt"))
        return _get(f"https://127.0.0.1:{self.ports['kube-controller-manager']}/healthz", context) == b"ok"


def _get(url: str, context: ssl.SSLContext | None = None, timeout: float = 5.0) -> bytes | None:
    """The body of a 200 response to GET ``url``, or None on any failure.

    Proxies are bypassed explicitly: urllib honours HTTPS_PROXY even for 127.0.0.1 when
    NO_PROXY does not list it, and our components only ever listen on loopback.
    """
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    try:
        with urllib.request.build_opener(*handlers).open(url, timeout=timeout) as response:
            return bytes(response.read()) if response.status == 200 else None
    except OSError:  # URLError, HTTPError, ssl.SSLError, connection resets, timeouts
        return None


def _alive(process: _Process) -> bool:
    if process.popen is not None:
        return process.popen.poll() is None
    return _pid_alive(process.pid, process.executable)


def _terminate(process: _Process, timeout: float) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _alive(process):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, sig)
        deadline = time.monotonic() + timeout
        while _alive(process) and time.monotonic() < deadline:
            time.sleep(0.1)


_flag_cache: dict[tuple[Path, str], bool] = {}


def _supports_flag(binary: Path, flag: str) -> bool:
    key = (binary, flag)
    if key not in _flag_cache:
        result = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=30)
        _flag_cache[key] = flag in result.stdout + result.stderr
    return _flag_cache[key]


def stop_from_state(state_dir: Path, timeout: float = DEFAULT_STOP_TIMEOUT) -> bool:
    """Stop the control plane recorded in ``state_dir``; False when there was no state to act on."""
    try:
        plane = ControlPlane.load(state_dir)
    except FileNotFoundError:
        return False
    plane.stop(timeout)
    return True


def remove_state_dir(state_dir: Path) -> None:
    """Delete what a control plane wrote to ``state_dir``, and the directory once it is empty.

    Only known entries are removed, so a --state-dir pointing somewhere unexpected loses nothing.
    """
    state_dir = Path(state_dir)
    for name in _OWNED_ENTRIES:
        path = state_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # missing, or holds files that are not ours
        state_dir.rmdir()
