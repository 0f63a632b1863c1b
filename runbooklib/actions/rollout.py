"""A release on an app node, the way the head node got it: install, then start and test.

    >>> install(node, "sakai_2-4-x-prod-003")           # stop, checkout, snapshot, deploy, config
    >>> start_and_test(node, known, "2.4.1")             # start, catalina.out, health

The upgrade does this on the nodes after the head (u14), batch by batch.
"""

from __future__ import annotations

from runbooklib.actions import config, http, known_issues, release, tomcat
from runbooklib.remote import Host


def install(node: Host, tag: str) -> None:
    tomcat.stop(node)
    release.checkout(node, tag)
    release.snapshot(node, before=tag)
    release.deploy(node, tag)
    config.sync_from_staging(node)


def start_and_test(node: Host, known: list[known_issues.KnownIssue], version: str) -> None:
    tomcat.start(node, known, start="any")
    tomcat.check_start_log(node, known, start="any")
    http.wait_healthy(node, version)
    http.assert_healthy(node, version)
