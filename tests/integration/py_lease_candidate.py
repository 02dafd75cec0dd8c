#!/usr/bin/python3
"""A leader-election candidate built on Debian's python3-kubernetes: its own leaderelection module
(LeaderElection, electionconfig) over a LeaseLock written here on client.CoordinationV1Api, since the
library ships only a ConfigMapLock. Used by test_election_python_client.py to contend with our replicas on
one Lease.

Usage: py_lease_candidate.py KUBECONFIG NAMESPACE LEASE IDENTITY LEASE_S RENEW_S RETRY_S
Prints "LEADING <monotonic seconds>" when it starts leading and "STOPPED <monotonic seconds>" when its
renewals fail, then exits. time.monotonic() is CLOCK_MONOTONIC, the clock our deployer journal uses."""
import datetime
import os
import sys
import time

from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.leaderelectionrecord import LeaderElectionRecord


def micro_time():
    return datetime.datetime.now(datetime.timezone.utc)


class LeaseLock:
    """The lock interface LeaderElection uses (get, create, update, name, namespace, identity), on a Lease.

    Optimistic concurrency as client-go: update replaces the object the last get returned, with its
    resourceVersion, so a write based on a stale read fails with 409. leaseTransitions goes up when the
    holder changes; an empty holder (a released Lease) reads as no holder, so it is taken at once."""

    def __init__(self, name, namespace, identity):
        self.api = client.CoordinationV1Api()
        self.name, self.namespace, self.identity = name, namespace, identity
        self.lease = None  # the object the last get returned

    def get(self, name, namespace):
        try:
            self.lease = self.api.read_namespaced_lease(name, namespace)
        except ApiException as e:
            return False, e
        spec = self.lease.spec
        if not spec.holder_identity:
            return True, None  # LeaderElection then writes its own record at once
        return True, LeaderElectionRecord(spec.holder_identity, str(spec.lease_duration_seconds),
                                          spec.acquire_time and spec.acquire_time.isoformat(),
                                          spec.renew_time and spec.renew_time.isoformat())

    def _spec(self, record, old):
        now = micro_time()
        same_holder = old is not None and old.holder_identity == record.holder_identity
        transitions = (old.lease_transitions or 0) if old is not None else 0
        if old is not None and not same_holder:  # client-go: any change of holder, from empty too
            transitions += 1
        return client.V1LeaseSpec(
            holder_identity=record.holder_identity,
            lease_duration_seconds=int(record.lease_duration),
            acquire_time=old.acquire_time if same_holder and old.acquire_time else now,
            renew_time=now,
            lease_transitions=transitions)

    def create(self, name, namespace, election_record):
        body = client.V1Lease(metadata=client.V1ObjectMeta(name=name, namespace=namespace),
                              spec=self._spec(election_record, None))
        try:
            self.lease = self.api.create_namespaced_lease(namespace, body)
            return True
        except ApiException:
            return False

    def update(self, name, namespace, updated_record):
        if self.lease is None:
            return False
        self.lease.spec = self._spec(updated_record, self.lease.spec)
        try:
            self.lease = self.api.replace_namespaced_lease(name, namespace, self.lease)
            return True
        except ApiException:
            return False


def main():
    kubeconfig, ns, name, ident = sys.argv[1:5]
    lease_s, renew_s, retry_s = (int(v) for v in sys.argv[5:8])
    config.load_kube_config(config_file=kubeconfig)

    def started():
        print("LEADING %.6f" % time.monotonic(), flush=True)

    def stopped():
        print("STOPPED %.6f" % time.monotonic(), flush=True)
        os._exit(0)

    cfg = electionconfig.Config(LeaseLock(name, ns, ident), lease_duration=lease_s, renew_deadline=renew_s,
                                retry_period=retry_s, onstarted_leading=started, onstopped_leading=stopped)
    leaderelection.LeaderElection(cfg).run()
    os._exit(0)


if __name__ == "__main__":
    main()
