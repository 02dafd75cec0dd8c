#!/usr/bin/python3
"""One leader-election candidate using python3-kubernetes' own leaderelection module (ConfigMapLock), for
test_python_client.py. Usage: py_candidate.py KUBECONFIG NAMESPACE LOCKNAME IDENTITY.
Prints "LEADING <id>" when it leads and "STOPPED <id>" when it loses the lock, then exits."""
import os
import sys
import time

from kubernetes import config
from kubernetes.leaderelection import electionconfig, leaderelection
from kubernetes.leaderelection.resourcelock.configmaplock import ConfigMapLock


def main():
    kubeconfig, ns, name, ident = sys.argv[1:5]
    config.load_kube_config(config_file=kubeconfig)

    def started():
        print("LEADING %s" % ident, flush=True)
        while True:
            time.sleep(1)

    def stopped():
        print("STOPPED %s" % ident, flush=True)
        os._exit(0)

    lock = ConfigMapLock(name, ns, ident)
    cfg = electionconfig.Config(lock, lease_duration=3, renew_deadline=2, retry_period=1,
                                onstarted_leading=started, onstopped_leading=stopped)
    leaderelection.LeaderElection(cfg).run()
    os._exit(0)


if __name__ == "__main__":
    main()
