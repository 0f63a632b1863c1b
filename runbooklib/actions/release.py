"""Sakai releases on an app node: svn checkout of a tag, ant build and deploy, fallback snapshots.

    >>> checkout(head, "sakai_2-4-x-prod-003")    # svn co <svn_url>/<tag> <src_dir>/<tag>
    >>> snapshot(head, before="sakai_2-4-x-prod-003")  # keep the running release first
    >>> deploy(head, "sakai_2-4-x-prod-003")      # ant deploy (refused without that snapshot)
    >>> install_snapshot(node, "sakai-core-2-4-x-prod-002")

What is deployed is told by `<tomcat_base>/sakai-release.properties` (`release.tag`,
`release.version`), which the build's deploy target writes. A snapshot is a tarball of what a
deploy puts into Tomcat (webapps/ and the release marker), kept in `releases_dir`.
"""

from __future__ import annotations

import javaproperties

from runbooklib.actions.common import ActionError, Outcome, closed_folder, path_part, q, run_in
from runbooklib.remote import Host
from runbooklib.transcript import transcript, verification

MARKER = "sakai-release.properties"
# What `ant deploy` writes into CATALINA_BASE, hence what a snapshot must hold to undo it.
DEPLOYED = ("webapps", MARKER)


def files_manifest(base: str) -> str:
    """A shell command printing `sha256  path` for every deployed file under `base`: the release
    marker, each war, and webapps' other files (not Tomcat's own unpacking of a war)."""
    listing = (
        f"cd {q(base)} && {{ test -f {MARKER} && echo {MARKER}; for f in webapps/*; do "
        '[ -e "$f" ] || continue; case "$f" in *.war) echo "$f" ;; '
        '*) [ -e "$f.war" ] || find "$f" -type f ;; esac; done; }'
    )
    return f"{listing} | LC_ALL=C sort | xargs -r -d '\\n' sha256sum"


def deployed_files(host: Host) -> str:
    """`sha256  path` lines of what is deployed now (see `files_manifest`)."""
    return host.probe(files_manifest(host.vars["tomcat_base"])).stdout


def _tag_path(host: Host, tag: str) -> str:
    """`<src_dir>/<tag>`: the tag names one folder there, never a path of its own."""
    return f"{host.vars['src_dir']}/{path_part(host, tag, 'release tag')}"


def snapshot_name(tag: str) -> str:
    """The seed's name for a kept release: sakai_2-4-x-prod-002 -> sakai-core-2-4-x-prod-002."""
    return "sakai-core-" + tag.removeprefix("sakai_")


def deployed(host: Host) -> dict[str, str]:
    """The release marker of the node (empty when nothing is deployed)."""
    out = host.probe(f"cat {q(host.vars['tomcat_base'])}/{MARKER} 2>/dev/null || true").stdout
    return javaproperties.loads(out) if out.strip() else {}


def tag_exists(host: Host, tag: str) -> bool:
    url = f"{host.vars['svn_url']}/{tag}"
    return host.probe(f"svn info --non-interactive {q(url)} >/dev/null", check=False, timeout=60).ok


def checkout(host: Host, tag: str) -> Outcome:
    """`svn co <svn_url>/<tag>` into `<src_dir>/<tag>`; a complete checkout of that URL is kept."""
    url, dest = f"{host.vars['svn_url']}/{tag}", _tag_path(host, tag)
    have = host.probe(
        f"svn info --non-interactive --show-item url {q(dest)} 2>/dev/null || true"
    ).stdout.strip()
    if have == url:
        # A tag never moves; an interrupted checkout never got its final name (see `.part`).
        return Outcome(host, f"checkout {tag}", False, f"{dest} is a checkout of {url}")
    if have:
        raise ActionError(f"{host}: {dest} is a checkout of {have}, not {url}: move it away")
    src = host.vars["src_dir"]
    run_in(
        host,
        [src],
        f"mkdir -p -- {q(src)} && {closed_folder(src)}; rm -rf -- {q(dest + '.part')} && "
        f"svn co --non-interactive --quiet -- {q(url)} {q(dest + '.part')} && "
        f"mv -T -- {q(dest + '.part')} {q(dest)}",
        timeout=900,
    )
    rev = host.probe(f"svn info --show-item revision {q(dest)}", check=False).stdout.strip()
    transcript.artifact("checkout", f"{host}:{dest}", url=url, revision=rev)
    return Outcome(host, f"checkout {tag}", True, f"{url} r{rev} in {dest}")


def _kept(host: Host, name: str) -> bool:
    """The snapshot `name` is in releases_dir and matches its checksums."""
    rel = host.vars["releases_dir"]
    return host.probe(
        f"test -f {q(rel)}/{q(name)}.tar.gz && cd -- {q(rel)} && "
        f"sha256sum --quiet -c -- {q(name)}.sha256",
        check=False,
    ).ok


def snapshot(host: Host, before: str) -> Outcome:
    """Keep what is deployed now as `<releases_dir>/<snapshot name>.tar.gz` (with its sha256),
    before the release `before` replaces it. Nothing to keep once `before` is deployed: the
    snapshot of what it replaced was kept then."""
    current = deployed(host)
    if current.get("release.tag") == before:
        return Outcome(host, "snapshot", False, f"{before} is deployed already")
    if not current.get("release.tag"):
        raise ActionError(f"{host}: no {MARKER} in {host.vars['tomcat_base']}: nothing to keep")
    name = path_part(host, snapshot_name(current["release.tag"]), "snapshot name")
    rel, base = host.vars["releases_dir"], host.vars["tomcat_base"]
    tar = f"{rel}/{name}.tar.gz"
    if _kept(host, name):
        return Outcome(host, f"snapshot {name}", False, f"{tar} kept earlier")
    # The manifest of the deployed files goes first: a snapshot exists once its tarball does.
    run_in(
        host,
        [rel],
        f"mkdir -p -- {q(rel)} && {closed_folder(rel)}; "
        f"({files_manifest(base)}) > {q(rel)}/{q(name)}.files && "
        f"cd -- {q(base)} && tar -czf {q(tar + '.part')} {' '.join(DEPLOYED)} && "
        f"mv -fT -- {q(tar + '.part')} {q(tar)} && cd -- {q(rel)} && "
        f"sha256sum -- {q(name)}.tar.gz {q(name)}.files > {q(name)}.sha256",
        timeout=600,
    )
    digest = host.probe(f"cat {q(rel)}/{q(name)}.sha256", check=False).stdout.split()[:1]
    transcript.artifact(
        "release-snapshot", f"{host}:{tar}", sha256=(digest or [""])[0], tag=current["release.tag"]
    )
    return Outcome(host, f"snapshot {name}", True, str(tar))


def deploy(host: Host, tag: str) -> Outcome:
    """`ant clean build deploy` the checkout of `tag`.

    Tomcat must be stopped (the deploy replaces the webapp under it), and the running release
    must have been kept by `snapshot` first: the fallback reinstalls it from there.
    """
    current = deployed(host).get("release.tag")
    if current == tag:
        return Outcome(host, f"deploy {tag}", False, f"{tag} is deployed")
    src = _tag_path(host, tag)
    if not host.check_mode:
        if not host.probe(f"test -f {q(src)}/build.xml", check=False).ok:
            raise ActionError(f"{host}: no checkout of {tag} in {src}: run the checkout step first")
        if not current or not _kept(host, snapshot_name(current)):
            raise ActionError(
                f"{host}: {current or 'the running release'} has no snapshot in "
                f"{host.vars['releases_dir']}: keep one first (release.snapshot)"
            )
    base = host.vars["tomcat_base"]
    host.run(
        f"cd {q(src)} && ant -noinput -quiet clean build deploy -Dtomcat.home={q(base)}",
        timeout=900,
    )
    now = deployed(host)
    if not host.check_mode and now.get("release.tag") != tag:
        raise ActionError(f"{host}: after the deploy {MARKER} says {now.get('release.tag')!r}")
    transcript.artifact("deploy", f"{host}:{base}", tag=tag, version=now.get("release.version", ""))
    return Outcome(host, f"deploy {tag}", True, f"{tag} ({now.get('release.version', '?')})")


def install_snapshot(host: Host, name: str) -> Outcome:
    """Put the snapshot `name` back in place of what is deployed (Tomcat stopped), only if the
    deployed files differ from it.

    Evidence, not assumption: a deploy always keeps its snapshot first, so a node with none never
    had a deploy (the window halted before its turn) and still runs the old release; a node with
    one is compared file by file (sha256) with the snapshot's manifest, which also catches a
    deploy cut short before it wrote its release marker.
    """
    rel, base = host.vars["releases_dir"], host.vars["tomcat_base"]
    tag = "sakai_" + name.removeprefix("sakai-core-")
    tar = f"{rel}/{name}.tar.gz"
    path_part(host, name, "snapshot name")
    kept = host.probe(f"cd -- {q(rel)} && sha256sum --quiet -c -- {q(name)}.sha256", check=False).ok
    if not kept:
        have = deployed(host).get("release.tag")
        if have == tag:
            return Outcome(
                host,
                f"install {name}",
                False,
                f"no snapshot: no deploy ran on this node (each keeps one first); {tag} is "
                "deployed, nothing to install",
            )
        raise ActionError(f"{host}: {have} is deployed and {tar} is missing: restore it by hand")
    wanted = host.probe(f"cat {q(rel)}/{q(name)}.files").stdout
    now = deployed_files(host)
    if now == wanted:
        count = len(wanted.splitlines())
        return Outcome(host, f"install {name}", False, f"the {count} deployed files equal {tar}")
    marker = host.probe(f"tar -xzOf {q(tar)} {MARKER}").stdout
    if javaproperties.loads(marker).get("release.tag") != tag:
        raise ActionError(f"{host}: {tar} does not hold {tag}: check {rel}")
    host.run(f"cd -- {q(base)} && rm -rf {' '.join(DEPLOYED)} && tar -xzf {q(tar)}", timeout=600)
    if not host.check_mode and deployed_files(host) != wanted:
        raise ActionError(f"{host}: after unpacking {tar} the deployed files still differ")
    transcript.artifact("install-snapshot", f"{host}:{base}", snapshot=tar, tag=tag)
    return Outcome(host, f"install {name}", True, f"{tag} from {tar}")


@verification
def assert_deployed(host: Host, tag: str, version: str) -> str:
    """The release deployed, as `tag (version)`, when it is the one expected."""
    now = deployed(host)
    have = f"{now.get('release.tag', 'no tag')} ({now.get('release.version', 'no version')})"
    assert have == f"{tag} ({version})", f"{host}: deployed {have}, expected {tag} ({version})"
    return have


@verification
def assert_checkout(host: Host, tag: str) -> None:
    dest = _tag_path(host, tag)
    url = host.probe(f"svn info --show-item url {q(dest)}").stdout.strip()
    assert url == f"{host.vars['svn_url']}/{tag}", f"{host}: {dest} is a checkout of {url}"
    assert host.testinfra.file(f"{dest}/build.xml").exists, f"{host}: {dest}/build.xml missing"


@verification
def assert_snapshot(host: Host, name: str) -> None:
    rel = host.vars["releases_dir"]
    host.probe(f"cd -- {q(rel)} && sha256sum --quiet -c -- {q(name)}.sha256")
