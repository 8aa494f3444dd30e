"""The local control plane: etcd, kube-apiserver and kube-controller-manager on loopback.

Used by the test harness (a session-scoped pytest fixture), by ``make cluster-up`` and by
``make run`` when no cluster is reachable. A real API server, never a mock.
"""
