"""A tenant's purge excludes its domains' reconciles.

A domain's reconcile gathers the tenant's licenses from the store, decides, and then applies the
domain's routing config; a purge deletes every backend object of the tenant for good. Were a
purge carried out between a domain's gathering and its apply, the apply would write routing again
for a tenant whose data was just deleted (seen once in a full run: a routing ConfigMap outliving
the purge until the domain's next decision). So each domain reconcile holds its tenant *shared*
(domains of one tenant still run side by side), and the purge, together with the license status
write that records it, holds the tenant *exclusively*: domain reconciles under way finish first
(what they applied, the purge deletes), and those that begin later wait, then gather a store that
says purged. A waiting purge goes first: a stream of domain reconciles cannot hold it off.

Locks exist only while held or waited for, so idle tenants cost nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

TenantKey = tuple[str, str]
"""(namespace, tenant name)."""


class _Lock:
    def __init__(self) -> None:
        self.changed = asyncio.Condition()
        self.shared = 0
        self.exclusive = False
        self.waiting_exclusive = 0
        self.users = 0
        """Holders and waiters: the lock is dropped when none is left."""


class TenantLocks:
    def __init__(self) -> None:
        self._locks: dict[TenantKey, _Lock] = {}

    def __len__(self) -> int:
        """Tenants whose lock is held or waited for."""
        return len(self._locks)

    @asynccontextmanager
    async def shared(self, namespace: str, tenant: str | None) -> AsyncIterator[None]:
        """Hold the tenant as a domain reconcile does (``None``: no tenant, nothing to hold)."""
        if tenant is None:
            yield
            return
        key = (namespace, tenant)
        lock = self._enter(key)
        try:
            async with lock.changed:
                await lock.changed.wait_for(lambda: not lock.exclusive and not lock.waiting_exclusive)
                lock.shared += 1
            try:
                yield
            finally:
                async with lock.changed:
                    lock.shared -= 1
                    lock.changed.notify_all()
        finally:
            self._leave(key, lock)

    @asynccontextmanager
    async def exclusive(self, namespace: str, tenant: str) -> AsyncIterator[None]:
        """Hold the tenant as a purge does: no domain reconcile of it runs meanwhile."""
        key = (namespace, tenant)
        lock = self._enter(key)
        try:
            async with lock.changed:
                lock.waiting_exclusive += 1
                try:
                    await lock.changed.wait_for(lambda: not lock.exclusive and not lock.shared)
                finally:
                    lock.waiting_exclusive -= 1
                    lock.changed.notify_all()  # a purge given up (cancelled) lets the domains go on
                lock.exclusive = True
            try:
                yield
            finally:
                async with lock.changed:
                    lock.exclusive = False
                    lock.changed.notify_all()
        finally:
            self._leave(key, lock)

    def _enter(self, key: TenantKey) -> _Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = _Lock()
        lock.users += 1
        return lock

    def _leave(self, key: TenantKey, lock: _Lock) -> None:
        lock.users -= 1
        if not lock.users:
            del self._locks[key]
